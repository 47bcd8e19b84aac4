"""A pipeline's controls: the budget pause is told once per day of the trader's own zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines import lifecycle
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import Pipeline, PipelineStatus

# 20:00 UTC on March 1st: March 2nd already in Tokyo.
EVENING_UTC = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


@pytest.fixture
def tokyo_pipeline(owner):
    owner.timezone = "Asia/Tokyo"
    owner.save(update_fields=["timezone"])
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    Pipeline.objects.filter(pk=pipeline.pk).update(status=PipelineStatus.ACTIVE)
    return pipeline


@pytest.mark.django_db
def test_it_dates_the_budget_notice_in_the_traders_zone(tokyo_pipeline, owner):
    paused = lifecycle.pipeline_budget_exhausted(
        pipeline_id=tokyo_pipeline.pk, reason="The daily budget is used up.", now=EVENING_UTC
    )

    assert paused
    tokyo_pipeline.refresh_from_db()
    assert tokyo_pipeline.status == PipelineStatus.PAUSED
    kinds = list(owner.notifications.values_list("kind", flat=True))
    assert kinds == [f"budget:{tokyo_pipeline.pk}:2026-03-02"]


@pytest.mark.django_db
def test_it_tells_the_trader_once_per_their_day(tokyo_pipeline, owner):
    def refused(at):
        return lifecycle.pipeline_budget_exhausted(
            pipeline_id=tokyo_pipeline.pk, reason="The daily budget is used up.", now=at
        )

    refused(EVENING_UTC)
    # Five hours later: March 2nd in Tokyo still, though a new day in UTC.
    assert not refused(EVENING_UTC + timedelta(hours=5))
    assert owner.notifications.count() == 1
    # A day later in Tokyo: told again.
    refused(EVENING_UTC + timedelta(hours=24))
    assert owner.notifications.count() == 2
