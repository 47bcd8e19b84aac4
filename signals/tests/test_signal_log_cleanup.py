"""The beat sweep deletes signal log rows older than the retention, and nothing newer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from config.core.beat import BEAT_SCHEDULE
from signals.models import MatchOutcome, SignalEvent, SignalMatch
from signals.services import signal_log_cleanup
from signals.tasks import signal_log_cleanup_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _event(owner, age: timedelta, n: int) -> SignalEvent:
    event = SignalEvent.objects.create(
        dedup_key=f"-:sig-{n}",
        signal_id=f"sig-{n}",
        signal_type="golden_cross",
        source="golden_cross",
        tickers=[],
        signal_at=NOW - age,
        received_at=NOW - age,
    )
    SignalMatch.objects.create(
        event=event, owner=owner, pipeline_id=uuid.uuid4(), outcome=MatchOutcome.STARTED
    )
    return event


@override_settings(SIGNAL_LOG_RETENTION_DAYS=7)
def test_it_deletes_rows_past_the_retention(owner, time_machine):
    time_machine.move_to(NOW, tick=False)
    old = [_event(owner, timedelta(days=8, minutes=n), n) for n in range(5)]
    kept = _event(owner, timedelta(days=6), 99)

    deleted = signal_log_cleanup_task()

    assert deleted == len(old)
    assert list(SignalEvent.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(SignalMatch.objects.values_list("event_id", flat=True)) == [kept.pk]


def test_the_sweep_is_on_the_beat_schedule():
    assert ("signals.signal_log_cleanup", 3600.0) in BEAT_SCHEDULE.values()


@override_settings(SIGNAL_LOG_RETENTION_DAYS=7)
def test_it_works_through_many_rows_in_small_batches(owner):
    for n in range(5):
        _event(owner, timedelta(days=10), n)

    assert signal_log_cleanup(now=NOW, batch_size=2) == 5
    assert not SignalEvent.objects.exists()
