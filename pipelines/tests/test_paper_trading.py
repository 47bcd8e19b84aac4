"""PAPER pipelines against the loopback Alpaca fake, through the real alpaca-py client: the
bracket payload, retries without duplicates, clear failures, a worker killed after sending,
and the monitor reconciling the broker's exits."""

from __future__ import annotations

import time
from decimal import Decimal

import psutil
import pytest

from accounts.services import broker_connection_create
from pipelines import engine, services
from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution
from tests.fakes.alpaca import FakeAlpaca
from tests.worker import worker_process_start
from trading.executors.factory import executor_for
from trading.marketdata.registry import market_data_provider
from trading.models import Order, Position, Trade
from trading.monitor import positions_monitor_sweep

KEY, SECRET = "PKFAKEPAPERKEY01", "fake-paper-secret-0000000001"
GRAPH = {
    "nodes": [
        {
            "id": "trigger",
            "agent_type": "price_trigger",
            "config": {"condition": "above", "level": 0.01},
        },
        {
            "id": "data",
            "agent_type": "market_data_agent",
            "config": {"timeframes": ["5m", "1h", "4h", "1d"]},
        },
        {
            "id": "bias",
            "agent_type": "bias_agent",
            "config": {"confidence_threshold": 0, "min_bias_score": 0},
        },
        {"id": "strategy", "agent_type": "strategy_agent", "config": {"risk_reward_min": 1.0}},
        {"id": "risk", "agent_type": "risk_manager_agent", "config": {"min_risk_reward": 1.0}},
        {"id": "trade", "agent_type": "trade_manager_agent", "config": {}},
    ],
}
GRAPH["edges"] = [
    {"from": a["id"], "to": b["id"]}
    for a, b in zip(GRAPH["nodes"], GRAPH["nodes"][1:], strict=False)
]


@pytest.fixture
def fake(settings):
    with FakeAlpaca(api_key=KEY, secret_key=SECRET) as server:
        settings.ALPACA_PAPER_URL = server.url
        yield server


def paper_pipeline(owner, symbols=("AAPL", "MSFT", "NVDA", "TSLA", "AMD", "JPM")) -> Pipeline:
    connection = broker_connection_create(
        owner=owner, account_type="paper", api_key=KEY, api_secret=SECRET
    )
    pipeline, _ = services.pipeline_create(
        owner=owner, name="paper bot", graph=GRAPH, symbols=list(symbols)
    )
    Pipeline.objects.filter(pk=pipeline.pk).update(
        trading_mode="PAPER", broker_connection=connection, mode_config={}
    )
    pipeline.refresh_from_db()
    return pipeline


def run(pipeline) -> PipelineExecution:
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    engine.execution_run(execution_id=execution.pk, task_id=f"t-{execution.pk}")
    execution.refresh_from_db()
    return execution


@pytest.mark.django_db
def test_a_paper_run_sends_one_bracket_per_target(owner, fake):
    execution = run(paper_pipeline(owner))
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    bodies = fake.order_requests()
    assert bodies, execution.state.get("warnings")
    trade = Trade.objects.filter(owner=owner, trading_mode="PAPER").first()
    legs = [b for b in bodies if b["symbol"] == trade.symbol]
    assert [leg["client_order_id"][-3:] for leg in legs] == ["-t1", "-t2"]
    first, second = legs
    assert first["order_class"] == "bracket"
    assert first["type"] == "market"
    assert first["time_in_force"] == "day"
    assert first["side"] == ("buy" if trade.side == "long" else "sell")
    assert Decimal(str(first["take_profit"]["limit_price"])) == trade.target_1
    assert Decimal(str(second["take_profit"]["limit_price"])) == trade.target_2
    assert Decimal(str(first["stop_loss"]["stop_price"])) == trade.stop_loss
    assert int(first["qty"]) + int(second["qty"]) == trade.quantity
    assert Position.objects.get(owner=owner, symbol=trade.symbol).trading_mode == "PAPER"


@pytest.mark.django_db
def test_a_rate_limit_and_a_server_error_are_retried_without_a_duplicate(owner, fake):
    fake.fail_next(1, status=429, headers={"Retry-After": "0"}, path=r"^/v2/orders$", method="POST")
    fake.fail_after_next(1, status=503, path=r"^/v2/orders$", method="POST")
    execution = run(paper_pipeline(owner, symbols=("TSLA", "JPM")))
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    client_ids = [b["client_order_id"] for b in fake.order_requests()]
    for client_id in set(client_ids):
        assert len(fake.orders_with_client_id(client_id)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "message"),
    [(403, "insufficient buying power"), (422, "qty must be > 0")],
)
def test_a_403_or_422_fails_the_step_with_a_clear_error(owner, fake, status, message):
    fake.fail_next(1, status=status, body={"message": message}, path=r"^/v2/orders$", method="POST")
    execution = run(paper_pipeline(owner, symbols=("TSLA", "JPM")))
    assert execution.status == ExecutionStatus.FAILED
    assert f"Alpaca refused the order ({status}): {message}" in execution.error
    assert execution.steps.get(node_id="trade").status == "failed"
    assert not fake.orders  # refused: nothing rests at the broker


@pytest.mark.django_db
def test_the_monitor_records_the_brokers_target_fill_and_moves_the_stop(owner, fake):
    run(paper_pipeline(owner, symbols=("TSLA", "JPM")))
    position = Position.objects.filter(owner=owner, status="open").first()
    trade = position.trade
    fake.set_price(
        position.symbol,
        trade.target_1 + (Decimal("0.05") if position.side == "long" else Decimal("-0.05")),
    )
    fake.tick()

    report = positions_monitor_sweep(
        now=django_settings_now(),
        market_data=market_data_provider(),
        executor_for=lambda owner, mode: executor_for(owner=owner, mode=mode),
    )
    assert not report.errors
    trade.refresh_from_db()
    position.refresh_from_db()
    assert trade.partial_exit_quantity > 0
    assert trade.partial_exit_price == trade.target_1
    assert position.stop_loss == trade.entry_price  # moved to breakeven, at the broker too
    stops = [
        o
        for o in fake.orders.values()
        if o.symbol == position.symbol
        and o.type == "stop"
        and o.status in {"new", "held", "accepted"}
    ]
    assert stops
    assert all(
        Decimal(str(o.stop_price)) == trade.entry_price.quantize(Decimal("0.01")) for o in stops
    )


def django_settings_now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
def test_a_worker_killed_after_sending_places_no_second_order_when_redelivered(owner, fake):
    # The worker runs at the wall clock, where the synthetic market may leave any one symbol
    # without a bias (no trade): six symbols make it all but certain that some trade.
    pipeline = paper_pipeline(owner)
    # The broker takes the order but its reply hangs: the worker is mid-call when it dies.
    fake.hold_response_next(1, seconds=30, path=r"^/v2/orders$", method="POST")
    worker = worker_process_start(ALPACA_PAPER_URL=fake.url)
    try:
        execution = services.execution_start(pipeline=pipeline)
        deadline = time.monotonic() + 60
        while not fake.order_requests() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fake.order_requests(), "the order never reached the broker"
        for child in psutil.Process(worker.pid).children():
            child.kill()  # the child running the task dies; prefork redelivers the message
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            execution.refresh_from_db()
            if execution.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED):
                break
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    assert execution.steps.get(node_id="trade").attempts == 2
    sent = [b["client_order_id"] for b in fake.order_requests()]
    assert len(sent) == len(set(sent)), f"an order was sent twice: {sent}"
    for client_id in sent:
        assert len(fake.orders_with_client_id(client_id)) == 1
        assert Order.objects.filter(client_order_id=client_id).count() == 1
    traded = {b["symbol"] for b in fake.order_requests()}
    for symbol in traded:
        assert Trade.objects.filter(owner=owner, symbol=symbol).count() == 1


@pytest.mark.django_db
def test_the_monitor_closes_at_the_broker_when_the_exit_conditions_hold(owner, fake):
    run(paper_pipeline(owner, symbols=("TSLA", "JPM")))
    position = Position.objects.filter(owner=owner, status="open").first()
    Position.objects.filter(pk=position.pk).update(
        exit_rules={
            "conditions": [
                {"indicator": "close", "operator": ">", "value": 0.01, "timeframe": "1d"}
            ],
            "logic": "OR",
        }
    )
    sent_before = len(fake.orders)

    report = positions_monitor_sweep(
        now=django_settings_now(),
        market_data=market_data_provider(),
        executor_for=lambda owner, mode: executor_for(owner=owner, mode=mode),
    )

    assert not report.errors
    position.refresh_from_db()
    assert position.status == "closed"
    assert position.trade.close_reason == "exit_condition"
    closing = [
        o
        for o in list(fake.orders.values())[sent_before:]
        if o.symbol == position.symbol and o.type == "market"
    ]
    assert len(closing) == 1
    assert [exit["reason"] for exit in report.exits] == ["exit_condition"]
