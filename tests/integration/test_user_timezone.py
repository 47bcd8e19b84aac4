"""Every time a person reads is in their profile's zone: Django's zone is activated per request
(and per pushed fragment), the zone is named once per page, charts' axes carry the local
offset, and the exchange's clock is added where the market matters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from pipelines.models import Pipeline, PipelineExecution
from pipelines.tests.factories import minimal_graph
from trading.localtime import chart_epoch, exchange_time
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db

# Tuesday 2026-11-24 14:35:07 UTC = 09:35:07 in New York (EST, UTC−5) = 15:35:07 in Berlin.
MOMENT = datetime(2026, 11, 24, 14, 35, 7, tzinfo=UTC)


def _execution(owner) -> PipelineExecution:
    pipeline = Pipeline.objects.create(owner=owner, name="Zone", graph=minimal_graph())
    return PipelineExecution.objects.create(
        pipeline=pipeline, owner=owner, status="completed", started_at=MOMENT
    )


def _position(owner) -> Position:
    trade = Trade.objects.create(
        owner=owner,
        trading_mode="SIMULATION",
        symbol="AAPL",
        side="long",
        quantity=10,
        remaining_quantity=10,
        requested_entry_price=Decimal("100"),
        entry_price=Decimal("100"),
        stop_loss=Decimal("95"),
        initial_stop_loss=Decimal("95"),
        target_1=Decimal("105"),
        target_2=Decimal("110"),
        opened_at=MOMENT,
    )
    return Position.objects.create(
        owner=owner,
        trading_mode="SIMULATION",
        symbol="AAPL",
        side="long",
        quantity=10,
        average_price=Decimal("100"),
        current_price=Decimal("101"),
        opened_at=MOMENT,
        trade=trade,
    )


def test_the_execution_header_is_in_the_users_zone_and_names_it_once(owner_client, owner):
    assert owner.timezone == "America/New_York"
    execution = _execution(owner)
    html = owner_client.get(reverse("pipelines:execution", args=[execution.pk])).content.decode()
    started = re.search(r'data-testid="started-at">([^<]+)<', html)[1]
    assert started == "Nov 24, 09:35:07"
    assert html.count('data-testid="time-zone"') == 1
    assert "Times are shown in <strong>America/New_York</strong> (EST)" in html


def test_a_reader_in_another_zone_gets_their_clock_and_the_exchanges(owner_client, owner):
    owner.timezone = "Europe/Berlin"
    owner.save()
    execution = _execution(owner)
    html = owner_client.get(reverse("pipelines:execution", args=[execution.pk])).content.decode()
    assert re.search(r'data-testid="started-at">([^<]+)<', html)[1] == "Nov 24, 15:35:07"
    assert "09:35 ET" in html


def test_a_positions_opened_at_is_in_the_users_zone(owner_client, owner):
    position = _position(owner)
    html = owner_client.get(reverse("trading:position", args=[position.pk])).content.decode()
    opened = re.search(r'data-testid="opened-at"><time[^>]*>([^<]+)</time>', html)[1]
    assert opened == "2026-11-24 09:35:07"
    # The reader's clock is New York's: the exchange time is not repeated.
    assert " ET" not in re.search(r'data-testid="opened-at">(.*?)</dd>', html)[1]
    # The chart's entry marker sits at 09:35 on the axis, not at 14:35.
    charts = json.loads(
        re.search(
            r'<script id="position-charts-data" type="application/json">(.*?)</script>', html
        )[1]
    )
    assert charts[0]["markers"][0]["at"] == int(MOMENT.timestamp()) - 5 * 3600


def test_chart_axes_carry_the_readers_offset_including_daylight_saving():
    with timezone.override("America/New_York"):
        assert chart_epoch(MOMENT) == int(MOMENT.timestamp()) - 5 * 3600
        summer = datetime(2026, 7, 1, 13, 30, tzinfo=UTC)
        assert chart_epoch(summer) == int(summer.timestamp()) - 4 * 3600
    with timezone.override("UTC"):
        assert chart_epoch(MOMENT) == int(MOMENT.timestamp())


def test_the_exchange_time_is_said_only_when_the_clocks_differ():
    with timezone.override("Europe/Berlin"):
        assert exchange_time(MOMENT) == "09:35 ET"
    with timezone.override("America/New_York"):
        assert exchange_time(MOMENT) == ""


def test_anonymous_pages_stay_in_utc_and_the_zone_is_not_leaked_between_requests(
    owner_client, client, owner
):
    owner_client.get(reverse("dashboard"))
    assert timezone.get_current_timezone_name() == "UTC"
    html = client.get(reverse("accounts:login")).content.decode()
    assert 'data-testid="time-zone"' not in html
