"""Risk manager: position size from equity and stop distance, capped by the limits, or rejected."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.errors import InsufficientData
from agents.registry import validate_node_config
from agents.state import StrategySignal, TradeSide
from agents.tests.factories import build_agent, make_context, make_state
from agents.tests.providers import PaperAccount
from trading.executors.base import PositionSnapshot


def signal(symbol="AAPL", *, action=TradeSide.BUY, entry=150.50, stop=148.00, target_1=154.25):
    return StrategySignal(
        symbol=symbol,
        action=action,
        conviction=80,
        entry_price=entry,
        stop_loss=stop,
        target_1=target_1,
        target_2=158.00,
        risk_reward_ratio=1.5,
        reasoning="Plan.",
    )


def size(*signals, config=None, account=None):
    state = make_state([s.symbol for s in signals])
    state.strategy_signals = {s.symbol: s for s in signals}
    agent = build_agent("risk_manager_agent", config)
    state = agent.process(state, make_context(executor=account or PaperAccount()))
    return state, agent


def checks_of(decision) -> dict[str, bool]:
    return {check.name: check.passed for check in decision.checks}


def test_it_sizes_a_trade_to_risk_one_percent_of_equity():
    # $1,000 at risk over $10.00 a share = 100 shares = $10,000: exactly 10% of equity.
    state, agent = size(signal(entry=100.00, stop=90.00, target_1=115.00))

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is True
    assert decision.adjusted is False
    assert decision.position_size == 100
    assert decision.position_value == Decimal("10000.00")
    assert decision.position_risk_amount == Decimal("1000.00")
    assert decision.account_risk_pct == 1.0
    assert decision.account_equity == Decimal("100000.00")
    assert decision.adjustments_made is None
    assert checks_of(decision) == {
        "risk_per_share": True,
        "risk_reward": True,
        "risk_budget": True,
        "max_position": True,
        "symbol_exposure": True,
        "buying_power": True,
        "minimum_size": True,
    }
    assert state.symbols == ["AAPL"]
    assert agent.summarize(state) == "AAPL: 100 shares, $10,000.00"


def test_it_caps_the_position_at_ten_percent_of_equity():
    # 2% of $100,000 over $2.50 a share is 800 shares ($120,400); 10% of equity buys 66.
    state, _ = size(signal(), config={"risk_per_trade_pct": 2.0})

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is True
    assert decision.adjusted is True
    assert decision.position_size == 66
    assert decision.position_value == Decimal("9933.00")
    assert decision.position_risk_amount == Decimal("165.00")
    assert decision.account_risk_pct == 0.17
    assert decision.adjustments_made == (
        "Reduced from 800 to 66 shares so the position stays within 10% of equity ($10,000.00)"
    )
    assert "Reduced from 800 to 66 shares" in decision.reasoning


def test_it_rejects_a_reward_below_the_minimum():
    state, agent = size(signal(target_1=153.00))  # $2.50 of reward for $2.50 of risk

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is False
    assert decision.position_size == 0
    assert decision.rejection_reason == (
        "Reward to target 1 ($153.00) is 1.00R; the minimum is 1.5R."
    )
    assert checks_of(decision)["risk_reward"] is False
    assert state.symbols == []
    assert agent.summarize(state) == "AAPL: rejected"


def test_it_rejects_when_buying_power_does_not_cover_one_share():
    account = PaperAccount(buying_power=Decimal("100"))

    state, _ = size(signal(), account=account)

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is False
    assert decision.rejection_reason == (
        "Buying power $100.00 does not cover one share at $150.50."
    )


def test_it_shrinks_to_the_buying_power_left():
    account = PaperAccount(buying_power=Decimal("3000"))

    state, _ = size(signal(), account=account)

    decision = state.risk_approvals["AAPL"]
    assert decision.position_size == 19  # $3,000 / $150.50
    assert decision.adjustments_made == (
        "Reduced from 400 to 66 shares so the position stays within 10% of equity ($10,000.00); "
        "Reduced from 66 to 19 shares to fit the buying power left ($3,000.00)"
    )


def test_orders_earlier_in_the_run_use_up_buying_power():
    account = PaperAccount(buying_power=Decimal("12000"))

    state, _ = size(signal("AAPL"), signal("MSFT"), account=account)

    assert state.risk_approvals["AAPL"].position_size == 66  # $9,933.00
    assert state.risk_approvals["MSFT"].position_size == 13  # $2,067.00 left
    assert state.symbols == ["AAPL", "MSFT"]


@pytest.mark.parametrize(
    ("action", "stop", "reason"),
    [
        (
            TradeSide.BUY,
            150.50,
            "Risk per share is $0.00: a buy at $150.50 needs its stop loss below the entry "
            "(stop $150.50).",
        ),
        (
            TradeSide.BUY,
            151.00,
            "Risk per share is $-0.50: a buy at $150.50 needs its stop loss below the entry "
            "(stop $151.00).",
        ),
        (
            TradeSide.SELL,
            149.00,
            "Risk per share is $-1.50: a sell at $150.50 needs its stop loss above the entry "
            "(stop $149.00).",
        ),
    ],
)
def test_it_rejects_zero_or_negative_risk_per_share(action, stop, reason):
    state, _ = size(signal(action=action, stop=stop, target_1=154.25))

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is False
    assert decision.rejection_reason == reason
    assert checks_of(decision) == {"risk_per_share": False}


def test_existing_exposure_counts_against_the_symbol_limit():
    held = PositionSnapshot("AAPL", "long", 100, Decimal("150"), market_value=Decimal("15000"))

    state, _ = size(signal(), account=PaperAccount(positions=[held]))

    decision = state.risk_approvals["AAPL"]
    # 20% of equity is $20,000; $15,000 is held, so $5,000 buys 33 more shares.
    assert decision.position_size == 33
    assert decision.adjustments_made.endswith(
        "Reduced from 66 to 33 shares to keep AAPL within 20% of equity "
        "($20,000.00; $15,000.00 already held)"
    )


def test_a_symbol_at_its_exposure_limit_is_rejected():
    held = PositionSnapshot("AAPL", "long", 200, Decimal("125"))

    state, _ = size(signal(), account=PaperAccount(positions=[held]))

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is False
    assert decision.rejection_reason == (
        "AAPL exposure is at its 20% limit ($20,000.00; $25,000.00 already held)."
    )


def test_a_tiny_account_cannot_afford_one_share_of_risk():
    account = PaperAccount(equity=Decimal("200"))

    state, _ = size(signal(), account=account)

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is False
    assert checks_of(decision)["minimum_size"] is False
    assert "$2.00 at risk does not cover one share" in decision.rejection_reason


def test_a_short_is_sized_like_a_long():
    short = signal(action=TradeSide.SELL, entry=150.50, stop=153.00, target_1=146.75)

    state, _ = size(short, config={"max_position_pct": 100, "max_symbol_exposure_pct": 100})

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is True
    assert decision.position_size == 400
    assert decision.position_value == Decimal("60200.00")


def test_it_needs_strategy_signals():
    with pytest.raises(InsufficientData, match="put a Strategy agent before it"):
        build_agent("risk_manager_agent").process(make_state(["AAPL"]), make_context())


def test_its_schema_fills_defaults_and_bounds_risk():
    config, errors = validate_node_config("risk_manager_agent", {})
    _, bad = validate_node_config("risk_manager_agent", {"risk_per_trade_pct": 10})

    assert errors == []
    assert config == {
        "sizing_method": "risk_based",
        "equity_fraction_pct": 10,
        "fixed_quantity": 100,
        "risk_per_trade_pct": 1.0,
        "max_position_pct": 10,
        "max_symbol_exposure_pct": 20,
        "min_risk_reward": 1.5,
        "respect_buying_power": True,
    }
    assert [(error.field, error.message) for error in bad] == [
        ("risk_per_trade_pct", "must be at most 5")
    ]


def test_it_compares_the_risk_reward_before_rounding():
    # Issue 13 item 7: $1.87 of reward for $1.25 of risk is 1.496R, shown as 1.50R; it must
    # still fail a 1.5R minimum.
    state, _ = size(signal(entry=100.00, stop=98.75, target_1=101.87))

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is False
    assert checks_of(decision)["risk_reward"] is False
    assert state.symbols == []


def test_it_sizes_with_a_fraction_of_equity_commission_included():
    # 100% of $100,000 at $150.50 with 0.2% commission: 100,000 / (150.50 × 1.002) = 663.1 → 663.
    account = PaperAccount()
    account.commission_pct = Decimal("0.2")
    config = {
        "sizing_method": "equity_fraction",
        "equity_fraction_pct": 100,
        "max_position_pct": 100,
        "max_symbol_exposure_pct": 100,
    }
    state, _ = size(signal(), config=config, account=account)

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is True
    assert decision.position_size == 663
    assert decision.position_value + decision.position_value * Decimal("0.002") <= Decimal("100000")


def test_it_sizes_a_fixed_quantity():
    state, _ = size(signal(), config={"sizing_method": "fixed_quantity", "fixed_quantity": 7})

    decision = state.risk_approvals["AAPL"]
    assert decision.approved is True
    assert decision.position_size == 7
    assert decision.position_value == Decimal("1053.50")


def test_it_refuses_an_unknown_sizing_method():
    _, errors = validate_node_config("risk_manager_agent", {"sizing_method": "martingale"})
    assert [error.field for error in errors] == ["sizing_method"]
