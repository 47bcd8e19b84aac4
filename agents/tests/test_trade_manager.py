"""Trade manager: approved trades become bracket orders with deterministic ids, sent or recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.builtin.trade_manager import MAX_CLIENT_ORDER_ID, client_order_id, exit_quantities
from agents.registry import validate_node_config
from agents.state import RiskDecision, StrategySignal, TradeSide
from agents.tests.factories import EXECUTION_ID, build_agent, make_context, make_state
from agents.tests.providers import PaperAccount
from trading.executors.base import BracketOrderRequest, PositionSnapshot
from trading.executors.validation import ValidationExecutor


def approved_state(*symbols, quantity=66, approved=True):
    state = make_state(list(symbols))
    for symbol in symbols:
        state.strategy_signals[symbol] = StrategySignal(
            symbol=symbol,
            action=TradeSide.BUY,
            conviction=80,
            entry_price=150.50,
            stop_loss=148.00,
            target_1=154.25,
            target_2=158.00,
            risk_reward_ratio=1.5,
            reasoning="Plan.",
        )
        state.risk_approvals[symbol] = RiskDecision(
            symbol=symbol, approved=approved, position_size=quantity if approved else 0
        )
    return state


def trade(state, config=None, executor=None, node_id="trade"):
    executor = executor or ValidationExecutor()
    agent = build_agent("trade_manager_agent", config, node_id=node_id)
    return agent.process(state, make_context(executor=executor)), executor, agent


def test_validation_records_the_bracket_order_and_sends_nothing():
    state, executor, agent = trade(approved_state("AAPL"))

    order = state.intended_orders["AAPL"]
    assert order.client_order_id == "tc-7c1f3a529b0d-trade-AAPL-entry"
    assert order.side == TradeSide.BUY
    assert order.quantity == 66
    assert (order.entry_price, order.stop_loss, order.target_1, order.target_2) == (
        Decimal("150.50"),
        Decimal("148.00"),
        Decimal("154.25"),
        Decimal("158.00"),
    )
    assert order.trading_mode == "VALIDATION"
    assert order.submitted is False
    assert order.note == (
        "Exit 33 at target 1 and 33 at target 2; stop to breakeven after target 1. "
        "Validation mode: the order was recorded, not sent."
    )
    assert executor.recorded == [
        BracketOrderRequest(
            client_order_id="tc-7c1f3a529b0d-trade-AAPL-entry",
            symbol="AAPL",
            side="buy",
            quantity=66,
            entry_price=Decimal("150.50"),
            stop_loss=Decimal("148.00"),
            target_1=Decimal("154.25"),
            target_2=Decimal("158.00"),
            take_profit=Decimal("158.00"),
        )
    ]
    assert state.trades == []
    assert state.metadata["exit_plans"]["AAPL"] == {
        "target_1_quantity": 33,
        "target_2_quantity": 33,
        "move_stop_to_breakeven": True,
        "monitoring_enabled": True,
    }
    assert agent.summarize(state) == "buy 66 AAPL @ $150.50 (recorded)"


def test_the_same_run_gives_the_same_order_id():
    first, _, _ = trade(approved_state("AAPL"))
    second, _, _ = trade(approved_state("AAPL"))

    assert (
        first.intended_orders["AAPL"].client_order_id
        == second.intended_orders["AAPL"].client_order_id
    )


def test_order_ids_stay_within_alpacas_limit():
    long_id = client_order_id(
        EXECUTION_ID, "trade-manager-for-the-afternoon-session", "BRK.B", "entry"
    )

    assert len(long_id) <= MAX_CLIENT_ORDER_ID
    assert long_id.startswith("tc-7c1f3a529b0d-")
    assert long_id.endswith("-BRK.B-entry")
    assert long_id == client_order_id(
        EXECUTION_ID, "trade-manager-for-the-afternoon-session", "BRK.B", "entry"
    )


def test_an_open_position_is_skipped_unless_pyramiding():
    held = [PositionSnapshot("AAPL", "long", 10, Decimal("140"))]

    skipped, executor, _ = trade(
        approved_state("AAPL", "MSFT"), executor=PaperAccount(positions=held)
    )
    pyramided, _, _ = trade(
        approved_state("AAPL"),
        {"allow_pyramiding": True},
        executor=PaperAccount(positions=held),
    )

    assert list(skipped.intended_orders) == ["MSFT"]
    assert skipped.symbols == ["MSFT"]
    assert [r.symbol for r in executor.recorded] == ["MSFT"]
    assert skipped.warnings[0].message == (
        "AAPL: a position is already open and pyramiding is off, so no order."
    )
    assert list(pyramided.intended_orders) == ["AAPL"]


def test_a_limit_entry_carries_its_limit_price():
    _, executor, _ = trade(approved_state("AAPL"), {"order_type": "limit"})

    assert executor.recorded[0].order_type == "limit"
    assert executor.recorded[0].limit_price == Decimal("150.50")


def test_the_exit_split_must_add_up_to_100_when_the_graph_is_checked():
    _, errors = validate_node_config("trade_manager_agent", {"partial_exit_split": [60, 30]})
    assert [(e.field, e.message) for e in errors] == [
        ("partial_exit_split", "must add up to 100% (it is 60 + 30 = 90)")
    ]
    with pytest.raises(ValueError, match=r"must add up to 100%"):
        trade(approved_state("AAPL"), {"partial_exit_split": [60, 30]})


@pytest.mark.parametrize(
    ("quantity", "split", "expected"),
    [
        (66, [50, 50], (33, 33)),
        (7, [50, 50], (4, 3)),
        (1, [50, 50], (1, 0)),
        (10, [100, 0], (10, 0)),
    ],
)
def test_exit_quantities_split_the_position(quantity, split, expected):
    assert exit_quantities(quantity, split) == expected


SIMULATION_CONFIG = {
    "slippage_pct": "0.1",
    "commission_per_share": "0.005",
    "simulate_partial_fills": False,
    "simulate_rejections": False,
    "initial_balance": "100000",
}


def simulate(state, owner, mode_config=None, node_id="trade", config=None):
    """Run the trade manager in SIMULATION mode through the real ledger and executor."""
    import dataclasses

    from trading.executors.simulation import SimulationExecutor
    from trading.marketdata.synthetic import SyntheticProvider

    mode_config = mode_config or SIMULATION_CONFIG
    provider = SyntheticProvider(seed=42)
    context = make_context(market_data=provider)
    context.pipeline = dataclasses.replace(
        context.pipeline,
        owner_id=str(owner.pk),
        trading_mode="SIMULATION",
        mode_config=mode_config,
        pipeline_id="",
    )
    context.executor = SimulationExecutor(
        owner=owner, mode_config=mode_config, clock=context.clock, market_data=provider
    )
    state.trading_mode = "SIMULATION"
    state.execution_id = ""
    agent = build_agent("trade_manager_agent", config, node_id=node_id)
    return agent.process(state, context), context, agent


@pytest.mark.django_db
def test_a_sending_executor_fills_and_the_trade_is_recorded(owner):
    from trading.models import Order, Position, Trade

    state, context, agent = simulate(approved_state("AAPL"), owner)

    order = state.intended_orders["AAPL"]
    assert order.submitted is True
    quote = context.market_data.quotes(["AAPL"], at=context.clock.now())["AAPL"]
    market = Decimal(str(quote.price))
    slippage = (market * Decimal("0.001")).quantize(Decimal("0.01"))
    [execution] = state.trades
    assert execution.client_order_id == order.client_order_id
    assert execution.filled_price == (market + slippage).quantize(Decimal("0.01"))
    assert execution.commission == Decimal("0.33")  # 66 shares × $0.005
    assert execution.status == "filled"
    ledger_order = Order.objects.get(client_order_id=order.client_order_id)
    assert (ledger_order.status, ledger_order.filled_quantity) == ("filled", 66)
    trade = Trade.objects.get(entry_order=ledger_order)
    assert (trade.quantity, trade.stop_loss, trade.target_2) == (
        66,
        Decimal("148.0000"),
        Decimal("158.0000"),
    )
    position = Position.objects.get(owner=owner, symbol="AAPL", status="open")
    assert position.quantity == 66
    assert agent.summarize(state) == "buy 66 AAPL @ $150.50 (filled)"


@pytest.mark.django_db
def test_a_rejected_order_is_an_error_and_the_symbol_drops(owner):
    from trading.executors.simulation import REJECTION_RATE, _rng

    def rejected(symbol, seed):
        order_id = client_order_id(EXECUTION_ID, "trade", symbol, "entry")
        return _rng(seed, order_id).random() < REJECTION_RATE

    seed = next(s for s in range(10_000) if rejected("MSFT", s) and not rejected("AAPL", s))
    config = {**SIMULATION_CONFIG, "simulate_rejections": True, "seed": seed}

    state, _, _ = simulate(approved_state("AAPL", "MSFT"), owner, mode_config=config)

    assert state.symbols == ["AAPL"]
    assert state.errors[0].symbol == "MSFT"
    assert state.errors[0].message.startswith("MSFT: order rejected: Simulated rejection")


@pytest.mark.django_db
def test_a_resumed_step_does_not_send_an_order_twice(owner):
    from trading.models import Order, Trade

    state, _, _ = simulate(approved_state("AAPL"), owner)
    state.symbols = ["AAPL"]
    # The worker died after the order filled; the step runs again: no second order or trade.
    again, _, _ = simulate(state, owner)

    assert Order.objects.filter(owner=owner).count() == 1
    assert Trade.objects.filter(owner=owner).count() == 1
    assert list(again.intended_orders) == ["AAPL"]


def test_validation_does_not_record_twice_on_a_resumed_step():
    state, executor, _ = trade(approved_state("AAPL"))

    again, _, _ = trade(state, executor=executor)

    assert len(executor.recorded) == 1
    assert list(again.intended_orders) == ["AAPL"]


def test_unapproved_symbols_get_no_order():
    state, executor, _ = trade(approved_state("AAPL", approved=False))

    assert executor.recorded == []
    assert state.symbols == []


def test_it_is_marked_as_acting_outside_the_process():
    agent = build_agent("trade_manager_agent")

    assert agent.metadata.has_side_effects is True


def test_its_schema_fills_defaults():
    config, errors = validate_node_config("trade_manager_agent", {})
    _, bad = validate_node_config("trade_manager_agent", {"partial_exit_split": [100]})

    assert errors == []
    assert config == {
        "allow_pyramiding": False,
        "partial_exit_split": [50, 50],
        "move_stop_to_breakeven": True,
        "monitoring_enabled": True,
        "exit_conditions": [],
        "exit_logic": "OR",
        "order_type": "market",
    }
    assert [error.field for error in bad] == ["partial_exit_split"]


@pytest.mark.django_db
def test_its_exit_conditions_go_with_the_position_to_the_monitor(owner):
    from trading.models import Position

    exit_when = [{"indicator": "sma_10", "operator": "crosses_below", "compare_to": "sma_20"}]
    simulate(approved_state("AAPL"), owner, config={"exit_conditions": exit_when})

    position = Position.objects.get(owner=owner, symbol="AAPL", status="open")
    # The schema fills the condition's default timeframe (5m).
    assert position.exit_rules == {
        "conditions": [{**exit_when[0], "timeframe": "5m"}],
        "logic": "OR",
    }
