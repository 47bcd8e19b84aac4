"""SIMULATION keeps to the exchange calendar: an entry while the market is closed is queued
for the next open and filled there by the monitor's sweep, or refused when the pipeline says
so; extended hours only when asked; the summaries say what happened (issue 13, items 3, 8)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from agents.tests.factories import build_agent, make_context
from agents.tests.test_trade_manager import SIMULATION_CONFIG, approved_state
from pipelines.schemas import validate_mode_config
from trading.executors.simulation import SimulationExecutor
from trading.marketdata.synthetic import SyntheticProvider
from trading.models import Order, OrderStatus, Position, Trade
from trading.tasks import positions_monitor_task

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in New York in November 2026 (Tue 24, Wed 25 are sessions)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def place(owner, now: datetime, **mode_config):
    """The trade manager places AAPL's approved bracket in SIMULATION at `now`."""
    config = {**SIMULATION_CONFIG, **mode_config}
    provider = SyntheticProvider(seed=42)
    context = make_context(market_data=provider, now=now)
    context.pipeline = dataclasses.replace(
        context.pipeline,
        owner_id=str(owner.pk),
        trading_mode="SIMULATION",
        mode_config=config,
        pipeline_id="",
    )
    context.executor = SimulationExecutor(
        owner=owner, mode_config=config, clock=context.clock, market_data=provider
    )
    state = approved_state("AAPL")
    state.trading_mode = "SIMULATION"
    agent = build_agent("trade_manager_agent", None, node_id="trade")
    return agent.process(state, context), context, agent


def test_it_queues_an_entry_placed_at_night_and_fills_it_at_the_next_open(owner):
    state, context, agent = place(owner, ny(24, 23, 53))

    order = Order.objects.get(client_order_id=state.intended_orders["AAPL"].client_order_id)
    assert order.status == OrderStatus.ACCEPTED
    assert order.filled_quantity == 0
    assert not Trade.objects.exists()  # nothing filled at the stale evening price
    assert state.trades == []
    assert agent.summarize(state) == "buy 66 AAPL @ $150.50 (queued for the next open)"
    assert "queued for the next open (Wed 25 Nov 09:30 ET)" in state.intended_orders["AAPL"].note

    with time_machine.travel(ny(25, 8, 0), tick=False):
        positions_monitor_task()  # before the open: still queued
    order.refresh_from_db()
    assert order.status == OrderStatus.ACCEPTED

    with time_machine.travel(ny(25, 9, 31), tick=False):
        positions_monitor_task()
        positions_monitor_task()  # a second sweep fills nothing twice

    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, 66)
    assert order.filled_at == ny(25, 9, 30)
    trade = Trade.objects.get(entry_order=order)
    opening = Decimal(str(context.market_data.quotes(["AAPL"], at=ny(25, 9, 30))["AAPL"].price))
    slippage = (opening * Decimal("0.001")).quantize(Decimal("0.01"))
    assert trade.entry_price == (opening + slippage).quantize(Decimal("0.01"))
    assert trade.opened_at == ny(25, 9, 30)
    assert (trade.quantity, trade.stop_loss, trade.target_2) == (
        66,
        Decimal("148.0000"),
        Decimal("158.0000"),
    )
    assert Position.objects.filter(owner=owner, symbol="AAPL").count() == 1


def test_it_refuses_the_entry_outside_the_session_when_the_pipeline_says_so(owner):
    state, _, agent = place(owner, ny(24, 23, 53), outside_session="reject")

    order = Order.objects.get(client_order_id=state.intended_orders["AAPL"].client_order_id)
    assert order.status == OrderStatus.REJECTED
    assert "Market closed: refused outside the session" in order.error
    assert not Trade.objects.exists()
    # Item 8: the summary says rejected, not sent.
    assert agent.summarize(state) == "buy 66 AAPL @ $150.50 (rejected)"
    assert any("order rejected" in error.message for error in state.errors)

    from agents.builtin.reporting import _SymbolStory

    story = _SymbolStory(state, "AAPL", snapshot=False, detailed=False).report()
    assert "order rejected (Market closed" in story["summary"]
    order_step = next(step for step in story["chain"] if step["step"] == "order")
    assert order_step["summary"].endswith("(SIMULATION, rejected)")
    assert order_step["data"]["outcome_label"] == "rejected"


def test_it_fills_in_extended_hours_only_when_the_pipeline_asks(owner):
    after_hours = ny(24, 17, 0)

    queued, _, _ = place(owner, after_hours)
    assert queued.intended_orders["AAPL"].outcome == "queued"

    Order.objects.all().delete()
    filled, _, agent = place(owner, after_hours, extended_hours=True)
    assert filled.intended_orders["AAPL"].outcome == "filled"
    assert agent.summarize(filled) == "buy 66 AAPL @ $150.50 (filled)"
    assert Trade.objects.get().opened_at == after_hours


def test_it_fills_at_once_during_the_session(owner):
    state, _, agent = place(owner, ny(24, 10, 0))
    assert agent.summarize(state) == "buy 66 AAPL @ $150.50 (filled)"
    assert Trade.objects.count() == 1


def test_it_names_the_field_of_an_unknown_outside_session_rule():
    with pytest.raises(ValidationError) as error:
        validate_mode_config("SIMULATION", {"outside_session": "later"})
    assert "mode_config.outside_session" in error.value.message_dict
    assert validate_mode_config("SIMULATION", {})["outside_session"] == "queue"


def test_the_pipeline_api_keeps_the_outside_session_rule_and_names_a_bad_one(api, owner):
    from pipelines.blueprints import pipeline_create_from_blueprint

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    url = f"/api/v1/pipelines/{pipeline.pk}"

    bad = api.patch(url, {"mode_config": {"outside_session": "whenever"}})
    assert bad.status_code in (400, 422)
    assert "outside_session" in bad.content.decode()
    pipeline.refresh_from_db()
    assert "outside_session" not in pipeline.mode_config or (
        pipeline.mode_config["outside_session"] == "queue"
    )

    good = api.patch(url, {"mode_config": {"outside_session": "reject", "extended_hours": True}})
    assert good.status_code == 200, good.content
    pipeline.refresh_from_db()
    assert pipeline.mode_config["outside_session"] == "reject"
    assert pipeline.mode_config["extended_hours"] is True
