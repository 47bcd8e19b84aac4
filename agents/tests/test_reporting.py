"""Reporting agent: a reasoning chain per symbol and a templated executive summary of the run."""

from __future__ import annotations

from decimal import Decimal

from agents.registry import validate_node_config
from agents.state import (
    BiasSignal,
    BiasType,
    IntendedOrder,
    MarketData,
    RiskCheck,
    RiskDecision,
    StrategySignal,
    TimeframeData,
    TradeSide,
    TriggerResult,
)
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state


def finished_run():
    """AAPL went all the way to a validated order; MSFT was dropped by its bias."""
    state = make_state(["AAPL"])
    state.trigger = TriggerResult(
        agent_id="trigger",
        agent_type="time_trigger",
        met=True,
        condition="5 min after the NYSE open",
    )
    for symbol, price in (("AAPL", 150.50), ("MSFT", 410.0)):
        state.market_data[symbol] = MarketData(
            symbol=symbol,
            current_price=price,
            bid=price - 0.01,
            ask=price + 0.01,
            volume=1000,
            timestamp=SESSION_NOW,
            timeframes={
                "1d": TimeframeData(
                    timeframe="1d", ohlcv={"close": price}, indicators={"rsi_14": 61.0}
                )
            },
        )
    state.bias_results["AAPL"] = BiasSignal(
        symbol="AAPL",
        bias=BiasType.BULLISH,
        confidence=78,
        bias_score=0.8,
        reasoning="AAPL reads bullish with 78% confidence.",
        factors=["1d: close above SMA200"],
    )
    state.bias_results["MSFT"] = BiasSignal(
        symbol="MSFT", bias=BiasType.NEUTRAL, confidence=20, bias_score=0.1, reasoning="Mixed."
    )
    state.add_warning("bias", "MSFT dropped: neutral bias (score 0.10).", "MSFT")
    state.strategy_signals["AAPL"] = StrategySignal(
        symbol="AAPL",
        action=TradeSide.BUY,
        conviction=80,
        entry_price=150.50,
        stop_loss=148.00,
        target_1=154.25,
        target_2=158.00,
        risk_reward_ratio=1.5,
        reasoning="Go long.",
        level_reasoning={"stop_loss": "Stop loss 1.5 x ATR(14) (1.67) below the entry: 148.00."},
    )
    state.risk_approvals["AAPL"] = RiskDecision(
        symbol="AAPL",
        approved=True,
        adjusted=True,
        position_size=66,
        position_value=Decimal("9933.00"),
        adjustments_made="Reduced from 800 to 66 shares",
        checks=[RiskCheck(name="max_position", passed=True, detail="Reduced")],
    )
    state.intended_orders["AAPL"] = IntendedOrder(
        symbol="AAPL",
        side=TradeSide.BUY,
        quantity=66,
        entry_price=Decimal("150.50"),
        stop_loss=Decimal("148.00"),
        target_1=Decimal("154.25"),
        target_2=Decimal("158.00"),
        client_order_id="tc-7c1f3a529b0d-trade-AAPL-entry",
        trading_mode="VALIDATION",
    )
    return state


def report(state, config=None):
    agent = build_agent("reporting_agent", config)
    return agent.process(state, make_context()), agent


def test_it_writes_the_executive_summary():
    state, agent = report(finished_run())

    summary = state.reports["_summary"]
    assert summary["title"] == "Morning momentum (validation): 1 order from 2 symbols"
    assert summary["summary"].splitlines() == [
        "AAPL: bullish bias (78%), buy 66 @ 150.50, stop 148.00, targets 154.25 / 158.00 — "
        "validation only, nothing sent.",
        "MSFT: neutral bias (20%) — no trade: neutral bias (score 0.10).",
        "0 errors and 1 warning.",
    ]
    assert summary["symbols"] == ["AAPL", "MSFT"]
    assert summary["outcome"] == "orders_validated"
    assert summary["warnings"][0]["symbol"] == "MSFT"
    assert agent.summarize(state) == summary["title"]


def test_each_symbol_gets_its_reasoning_chain_in_order():
    state, _ = report(finished_run())

    aapl = state.reports["AAPL"]
    assert aapl["outcome"] == "order_validated"
    assert [step["step"] for step in aapl["chain"]] == [
        "trigger",
        "market_snapshot",
        "bias",
        "strategy",
        "risk",
        "order",
    ]
    bias = aapl["chain"][2]
    assert bias["data"]["factors"] == ["1d: close above SMA200"]
    assert bias["data"]["reasoning"] == "AAPL reads bullish with 78% confidence."
    strategy = aapl["chain"][3]["data"]
    assert strategy["level_reasoning"]["stop_loss"].startswith("Stop loss 1.5 x ATR(14)")
    risk = aapl["chain"][4]
    assert risk["summary"] == "approved 66 shares ($9,933.00)"
    assert risk["data"]["checks"] == [{"name": "max_position", "passed": True, "detail": "Reduced"}]
    assert aapl["chain"][1]["data"]["timeframes"] == {"1d": {"close": 150.5, "rsi_14": 61.0}}
    msft = state.reports["MSFT"]
    assert msft["outcome"] == "no_trade"
    assert [step["step"] for step in msft["chain"]] == ["trigger", "market_snapshot", "bias"]
    assert msft["warnings"] == ["MSFT dropped: neutral bias (score 0.10)."]


def test_a_detailed_summary_adds_the_reasoning_and_the_snapshot_can_go():
    state, _ = report(
        finished_run(), {"summary_style": "detailed", "include_market_snapshot": False}
    )

    first = state.reports["_summary"]["summary"].splitlines()[0]
    assert first.endswith(
        "validation only, nothing sent. AAPL reads bullish with 78% confidence. "
        "Stop loss 1.5 x ATR(14) (1.67) below the entry: 148.00. Reduced from 800 to 66 shares."
    )
    assert "market_snapshot" not in [s["step"] for s in state.reports["AAPL"]["chain"]]


def test_a_risk_rejection_reads_as_such():
    state = finished_run()
    del state.intended_orders["AAPL"]
    state.risk_approvals["AAPL"] = RiskDecision(
        symbol="AAPL", approved=False, rejection_reason="Reward to target 1 is 1.00R."
    )

    state, _ = report(state)

    assert state.reports["AAPL"]["outcome"] == "rejected_by_risk"
    assert state.reports["_summary"]["outcome"] == "no_trade"
    assert (
        state.reports["_summary"]["summary"]
        .splitlines()[0]
        .endswith("— rejected by risk: Reward to target 1 is 1.00R.")
    )


def test_a_run_that_analysed_nothing_still_gets_a_summary():
    state = make_state([])
    state.stock_picker_output = {"source": "screener", "symbols_selected": []}
    state.add_warning("picker", "Stock picker: no stock matched the screener filters.")

    state, agent = report(state)

    summary = state.reports["_summary"]
    assert summary["outcome"] == "nothing_analysed"
    assert summary["symbols"] == []
    assert summary["summary"] == (
        "The stock picker selected no symbols.\n"
        "0 errors and 1 warning. Warnings: Stock picker: no stock matched the screener filters."
    )
    assert agent.summarize(state) == "Morning momentum (validation): no symbols analysed"


def test_its_schema_fills_defaults():
    config, errors = validate_node_config("reporting_agent", {})

    assert errors == []
    assert config == {
        "include_market_snapshot": True,
        "summary_style": "brief",
        "engine": "rules",
        "fallback_to_rules": False,
        "model": "",
    }


def test_a_failed_order_reads_as_not_placed():
    state = finished_run()
    state.intended_orders["AAPL"].note = "Rejected: Not tradable"
    state.drop_symbol("AAPL")

    state, _ = report(state)

    assert state.reports["AAPL"]["outcome"] == "order_failed"
    assert state.reports["_summary"]["outcome"] == "no_trade"
    assert state.reports["AAPL"]["summary"].endswith("— order not placed (Rejected: Not tradable).")
