"""An on-signal pipeline end to end through the real dispatcher: activation starts nothing, a
matching signal starts one run for its tickers, the run trades the signal's ticker, and a signal
while the position is open is skipped (issue 13, item 1)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from pipelines import engine, lifecycle, runmodes, services
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import ExecutionStatus, PipelineExecution, StepRun, TriggerSource
from signals.models import MatchOutcome, SignalMatch
from signals.services import pipeline_signal_settings_set, scanner_create
from signals.tests.factories import signal_body
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db(transaction=True)

SIMULATION = {
    "slippage_pct": "0.1",
    "commission_per_share": "0.005",
    "simulate_partial_fills": False,
    "simulate_rejections": False,
    "initial_balance": "100000",
}
SCANNER_TICKERS = ["AAPL", "MSFT", "NVDA", "META", "TSLA", "AMZN"]
# A Tuesday morning in New York, the market open.
SESSION = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def _price_trigger_graph(level: float) -> dict:
    """The issue's pipeline: Price Trigger (above `level`) → Market Data → Bias → Strategy →
    Risk Manager → Trade Manager → Reporting."""
    nodes = [
        {"id": "trigger", "agent_type": "price_trigger", "config": {"condition": "above"}},
        {
            "id": "data",
            "agent_type": "market_data_agent",
            "config": {"timeframes": ["5m", "1h", "4h", "1d"]},
        },
        {"id": "bias", "agent_type": "bias_agent", "config": {"confidence_threshold": 55}},
        {"id": "strategy", "agent_type": "strategy_agent", "config": {"timeframe": "5m"}},
        {"id": "risk", "agent_type": "risk_manager_agent", "config": {}},
        {"id": "trade", "agent_type": "trade_manager_agent", "config": {}},
        {"id": "report", "agent_type": "reporting_agent", "config": {}},
    ]
    nodes[0]["config"]["level"] = level
    for index, node in enumerate(nodes):
        node["position"] = {"x": 80 + 200 * index, "y": 120}
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"nodes": nodes, "edges": edges}


def _signal_pipeline(owner, *, level: float = 1):
    scanner = scanner_create(owner=owner, name="Big tech", tickers=SCANNER_TICKERS)
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    services.pipeline_update(
        pipeline=pipeline,
        graph=_price_trigger_graph(level),
        run_mode="run_on_signal",
        mode_config=SIMULATION,
    )
    pipeline_signal_settings_set(
        pipeline=pipeline,
        scanner_id=scanner.pk,
        signal_subscriptions=[
            {"signal_type": "mock", "min_confidence": 50},
            {"signal_type": "volume_spike", "min_confidence": 0},
        ],
    )
    return pipeline


def _run_pending() -> list[str]:
    """A worker's turn: every pending execution runs in-process, through the real engine."""
    statuses = []
    for execution in PipelineExecution.objects.filter(status=ExecutionStatus.PENDING):
        statuses.append(
            engine.execution_run(execution_id=execution.pk, task_id=f"t-{execution.pk}")
        )
    return statuses


def test_it_starts_nothing_on_activation_and_trades_the_signals_ticker(
    owner, bus, make_dispatcher, executions_queue
):
    pipeline = _signal_pipeline(owner)
    with time_machine.travel(SESSION, tick=True):
        lifecycle.pipeline_activate(pipeline=pipeline)
        assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 0
        dispatcher = make_dispatcher(bus)

        signal = signal_body(signal_type="mock", tickers=[("TSLA", 80)])
        bus.publish(signal, owner_id=owner.pk)
        [result] = dispatcher.run_once()

        assert (result.matched, len(result.started)) == (1, 1)
        execution = PipelineExecution.objects.get(pipeline=pipeline)
        assert execution.trigger_source == TriggerSource.SIGNAL
        assert execution.trigger_detail["symbols"] == ["TSLA"]
        assert _run_pending() == [ExecutionStatus.COMPLETED]

        execution.refresh_from_db()
        assert execution.state["symbols"] == ["TSLA"]
        trigger_step = StepRun.objects.get(execution=execution, node_id="trigger")
        assert trigger_step.output_summary.startswith("Met for TSLA")
        position = Position.objects.get(pipeline_id=pipeline.pk, status="open")
        assert position.symbol == "TSLA"
        assert Trade.objects.filter(pipeline_id=pipeline.pk, symbol="TSLA").exists()
        # The end of the run starts nothing: the next signal does.
        assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1

        # A second signal while the TSLA position is open: skipped, saying why.
        bus.publish(
            signal_body(signal_type="volume_spike", tickers=[("AAPL", 70)]), owner_id=owner.pk
        )
        [second] = dispatcher.run_once()

    assert (second.matched, second.started) == (1, [])
    skipped = SignalMatch.objects.get(event__signal_type="volume_spike")
    assert skipped.outcome == MatchOutcome.SKIPPED
    assert skipped.reason == "Waiting for its TSLA position to close."
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1


def test_it_ends_a_signals_run_when_the_trigger_is_not_met_instead_of_parking_it(
    owner, bus, make_dispatcher, executions_queue
):
    pipeline = _signal_pipeline(owner, level=100000)
    with time_machine.travel(SESSION, tick=True):
        lifecycle.pipeline_activate(pipeline=pipeline)
        dispatcher = make_dispatcher(bus)
        bus.publish(signal_body(signal_type="mock", tickers=[("MSFT", 90)]), owner_id=owner.pk)
        dispatcher.run_once()

        assert _run_pending() == [ExecutionStatus.COMPLETED]
        execution = PipelineExecution.objects.get(pipeline=pipeline)
        assert execution.next_check_at is None
        trigger_step = StepRun.objects.get(execution=execution, node_id="trigger")
        assert trigger_step.status == "completed"
        assert trigger_step.output_summary.startswith("Trigger not met: MSFT does not meet")
        assert not StepRun.objects.filter(execution=execution, node_id="trade").exists()
        assert not Position.objects.filter(pipeline_id=pipeline.pk).exists()

        # The slot is free: the next matching signal starts a new run at once.
        bus.publish(signal_body(signal_type="mock", tickers=[("AAPL", 90)]), owner_id=owner.pk)
        [result] = dispatcher.run_once()
    assert len(result.started) == 1
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 2


def test_it_cancels_a_restart_left_waiting_when_an_on_signal_pipeline_is_activated(owner):
    pipeline = _signal_pipeline(owner)
    stale = PipelineExecution.objects.create(
        pipeline=pipeline,
        owner=owner,
        status=ExecutionStatus.WAITING_TRIGGER,
        next_check_at=SESSION + timedelta(minutes=5),
        trigger_source=TriggerSource.RESTART,
        trading_mode=pipeline.trading_mode,
        graph=pipeline.graph,
    )

    lifecycle.pipeline_activate(pipeline=pipeline, now=SESSION)

    stale.refresh_from_db()
    assert stale.status == ExecutionStatus.CANCELLED
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1


def test_it_explains_the_trigger_of_an_on_signal_pipeline_in_the_builder_and_on_its_page(
    owner, client
):
    from django.urls import reverse

    pipeline = _signal_pipeline(owner)
    client.force_login(owner)

    builder = client.get(reverse("pipelines:builder", args=[pipeline.pk])).content.decode()
    page = client.get(reverse("pipelines:detail", args=[pipeline.pk])).content.decode()

    note = builder.split('data-testid="signal-trigger-note"')[1].split(">")[0]
    assert "hidden" not in note
    assert "checked once for those tickers" in builder
    assert 'data-testid="on-signal-note"' in page
    assert "Activating starts nothing" in page

    lifecycle.pipeline_activate(pipeline=pipeline, now=SESSION)
    page = client.get(reverse("pipelines:detail", args=[pipeline.pk])).content.decode()
    assert "Listening: the next matching signal starts a run for its tickers." in page


def test_it_queues_a_signals_order_after_the_close_and_the_run_page_says_so(
    owner, client, bus, make_dispatcher, executions_queue
):
    from django.urls import reverse

    from trading.models import Order

    after_close = datetime(2026, 11, 24, 16, 5, tzinfo=ZoneInfo("America/New_York"))
    pipeline = _signal_pipeline(owner)
    with time_machine.travel(after_close, tick=True):
        lifecycle.pipeline_activate(pipeline=pipeline)
        dispatcher = make_dispatcher(bus)
        bus.publish(signal_body(signal_type="mock", tickers=[("TSLA", 80)]), owner_id=owner.pk)
        dispatcher.run_once()
        assert _run_pending() == [ExecutionStatus.COMPLETED]
        # One position at a time counts the queued entry: the next signal waits for it.
        bus.publish(signal_body(signal_type="mock", tickers=[("AAPL", 90)]), owner_id=owner.pk)
        [second] = dispatcher.run_once()
    assert second.started == []
    assert SignalMatch.objects.get(symbols=["AAPL"]).reason == (
        "Waiting for its TSLA position to close."
    )
    assert runmodes.start_blocker(pipeline=pipeline, now=after_close) == (
        "Waiting for its TSLA position to close."
    )

    execution = PipelineExecution.objects.get(pipeline=pipeline)
    trade_step = StepRun.objects.get(execution=execution, node_id="trade")
    assert re.fullmatch(
        r"(buy|sell) \d+ TSLA @ \$[\d.,]+ \(queued for the next open\)", trade_step.output_summary
    )
    assert Order.objects.get(execution_id=execution.pk).status == "accepted"
    assert not Trade.objects.exists()
    client.force_login(owner)
    html = client.get(reverse("pipelines:execution", args=[execution.pk])).content.decode()
    assert 'data-testid="queued-orders"' in html
    assert "TSLA is queued for the next open" in html
