"""Gathering a scope: periods in the trader's zone, one mode only, the balance the period starts
from, open positions marked at the last price, and the costs of that mode's runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from analytics import selectors
from analytics.tests import factories as f

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def test_it_reads_periods_in_the_traders_zone(owner):
    with time_machine.travel(datetime(2026, 3, 10, 3, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        scope = selectors.scope_for(user=owner, period="7D")  # 9 March, 23:00 in New York
        assert (scope.first_day, scope.last_day) == (date(2026, 3, 3), date(2026, 3, 9))
        assert selectors.scope_for(user=owner, period="YTD").first_day == date(2026, 1, 1)
        assert selectors.scope_for(user=owner, period="ALL").first_day is None


def test_it_names_the_field_of_a_bad_scope(owner):
    with pytest.raises(ValidationError) as error:
        selectors.scope_for(user=owner, mode="REAL")
    assert "mode" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        selectors.scope_for(user=owner, start="2026-03-10", end="2026-03-01")
    assert "end" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        selectors.scope_for(user=owner, start="yesterday")
    assert "start" in error.value.message_dict


def test_it_starts_the_period_from_the_balance_earlier_trades_left(owner):
    now = datetime(2026, 3, 13, 20, 0, tzinfo=ZoneInfo("UTC"))
    f.closed_trade(owner, net="500", closed_at=now - timedelta(days=60))
    f.closed_trade(owner, net="-100", closed_at=now - timedelta(days=2))
    with time_machine.travel(now, tick=False):
        perf = selectors.performance(selectors.scope_for(user=owner, period="7D"))
    assert perf.equity[0][1] == Decimal("100500.00")  # the day before the period
    assert perf.equity[-1][1] == Decimal("100400.00")
    assert perf.trade_stats["net_pnl"] == Decimal("-100")
    assert perf.equity_stats["max_drawdown_amount"] == Decimal("-100.00")


def test_it_keeps_each_mode_apart(owner):
    f.closed_trade(owner, net="10", mode="SIMULATION")
    f.closed_trade(owner, net="20", mode="VALIDATION")
    f.closed_trade(owner, net="40", mode="PAPER")
    f.closed_trade(owner, net="80", mode="LIVE")
    nets = {
        mode: selectors.performance(selectors.scope_for(user=owner, mode=mode)).trade_stats[
            "net_pnl"
        ]
        for mode in ("SIMULATION", "VALIDATION", "PAPER", "LIVE")
    }
    assert nets == {
        "SIMULATION": Decimal("10"),
        "VALIDATION": Decimal("20"),
        "PAPER": Decimal("40"),
        "LIVE": Decimal("80"),
    }
    assert selectors.scope_for(user=owner, mode="VALIDATION").no_real_money
    assert not selectors.scope_for(user=owner, mode="PAPER").no_real_money


def test_it_marks_open_positions_at_the_last_price_on_the_last_day(owner):
    from django.utils import timezone

    from trading.models import Position

    f.closed_trade(owner, net="30")
    Position.objects.create(
        owner=owner,
        trading_mode="SIMULATION",
        symbol="TSLA",
        side="long",
        quantity=5,
        average_price=Decimal("200"),
        current_price=Decimal("204"),
        unrealized_pnl=Decimal("20"),
        opened_at=timezone.now(),
    )
    perf = selectors.performance(selectors.scope_for(user=owner))
    assert perf.open_pnl == Decimal("20")
    assert perf.equity[-1][1] == Decimal("100050.00")
    assert perf.trade_stats["net_pnl"] == Decimal("30")  # realized only


def test_it_charges_the_costs_of_the_modes_runs_only(owner):
    from pipelines.models import PipelineExecution

    crew = f.pipeline(owner)
    sim_run = PipelineExecution.objects.create(
        pipeline=crew, owner=owner, trading_mode="SIMULATION", status="completed"
    )
    live_run = PipelineExecution.objects.create(
        pipeline=crew, owner=owner, trading_mode="LIVE", status="completed"
    )
    f.cost(owner, "1.25", pipeline=crew, execution=sim_run)
    f.cost(owner, "9.00", pipeline=crew, execution=live_run)
    sim = selectors.performance(selectors.scope_for(user=owner, pipeline_ids=[crew.pk]))
    assert sim.agent_costs == Decimal("1.25")
    assert sim.trade_stats["pnl_after_costs"] == Decimal("-1.25")


def test_it_uses_the_pipelines_allocated_capital(owner):
    crew = f.pipeline(owner, mode_config={"initial_balance": "25000"})
    f.closed_trade(owner, net="250", pipeline=crew)
    perf = selectors.performance(selectors.scope_for(user=owner, pipeline_ids=[crew.pk]))
    assert perf.capital == Decimal("25000")
    assert perf.trade_stats["roi"] == 0.01


def test_it_keeps_custom_periods_within_the_calendar(owner):
    with pytest.raises(ValidationError) as error:
        selectors.scope_for(user=owner, start="0001-01-01")
    assert "start" in error.value.message_dict
    scope = selectors.scope_for(user=owner, start="2026-01-05", end="2999-12-31")
    assert scope.last_day <= date.today() + timedelta(days=1)


def test_it_keys_entries_in_exchange_time_and_closes_on_the_traders_day(owner):
    owner.timezone = "America/Los_Angeles"
    owner.save()
    closed_at = datetime(2026, 3, 3, 6, 30, tzinfo=ZoneInfo("UTC"))  # 2 March, 22:30 in LA
    f.closed_trade(owner, net="12", closed_at=closed_at, hours=16)  # opened Mon 09:30 New York
    with time_machine.travel(closed_at + timedelta(hours=1), tick=False):
        perf = selectors.performance(selectors.scope_for(user=owner, period="7D"))
    assert [row["key"] for row in perf.breakdowns["hour"]] == ["09:00"]
    assert [row["key"] for row in perf.breakdowns["weekday"]] == ["Mon"]
    assert str(perf.columns.close_day[0]) == "2026-03-02"
    assert dict(perf.equity)[date(2026, 3, 2)] == Decimal("100012.00")


def test_it_breaks_down_by_pipeline_by_name(owner):
    momentum = f.pipeline(owner, name="Momentum")
    reversion = f.pipeline(owner, name="Reversion")
    f.closed_trade(owner, net="10", pipeline=momentum)
    f.closed_trade(owner, net="-4", pipeline=reversion)
    f.closed_trade(owner, net="3")
    rows = selectors.performance(selectors.scope_for(user=owner)).breakdowns["pipeline"]
    assert [(row["label"], row["net_pnl"]) for row in rows] == [
        ("Momentum", Decimal("10")),
        ("No pipeline (or deleted)", Decimal("3")),
        ("Reversion", Decimal("-4")),
    ]


def test_it_filters_the_trades_table_and_ignores_a_pipeline_filter_that_is_not_an_id(owner):
    crew = f.pipeline(owner)
    mine = f.closed_trade(owner, net="10", symbol="AAPL", pipeline=crew)
    f.closed_trade(owner, net="20", symbol="MSFT", pipeline=crew)
    loose = f.closed_trade(owner, net="30", symbol="AAPL", side="short")
    scope = selectors.scope_for(user=owner)

    def matching(filters):
        return {trade.pk for trade in selectors.trades_for_table(scope, filters)}

    assert matching({"symbol": "aapl"}) == {mine.pk, loose.pk}
    assert matching({"symbol": "aapl", "pipeline_id": str(crew.pk)}) == {mine.pk}
    assert matching({"symbol": "aapl", "side": "short"}) == {loose.pk}
    # A hand-edited ?pipeline_id= that is no id narrows nothing instead of failing the query.
    assert matching({"symbol": "aapl", "pipeline_id": "not-an-id"}) == {mine.pk, loose.pk}
