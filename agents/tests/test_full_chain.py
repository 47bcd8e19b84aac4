"""Whole pipelines, agent after agent as the engine runs them, on crafted and on synthetic data."""

from __future__ import annotations

from decimal import Decimal

from agents.state import PipelineState, TradeSide
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state
from agents.tests.providers import downtrend, flat, scenario_provider, uptrend
from trading.executors.validation import ValidationExecutor
from trading.marketdata.news import SyntheticNews
from trading.marketdata.synthetic import SyntheticProvider

ANALYSIS = [
    ("data", "market_data_agent", {}),
    ("bias", "bias_agent", {}),
    ("strategy", "strategy_agent", {}),
    ("risk", "risk_manager_agent", {}),
    ("trade", "trade_manager_agent", {}),
    ("report", "reporting_agent", {}),
]


def run(nodes, state, context):
    summaries = {}
    for node_id, agent_type, config in nodes:
        agent = build_agent(agent_type, config, node_id=node_id)
        state = agent.process(state, context)
        summaries[node_id] = agent.summarize(state)
    return state, summaries


def required_timeframes(nodes) -> frozenset[str]:
    """What the engine tells the market data agent: the timeframes the other agents read."""
    needed: set[str] = set()
    for _, agent_type, config in nodes:
        agent = build_agent(agent_type, config)
        needed |= agent.required_timeframes(agent.config)
    return frozenset(needed)


def test_a_trend_following_run_buys_the_uptrend_and_shorts_the_downtrend():
    nodes = [("trigger", "time_trigger", {}), *ANALYSIS]
    provider = scenario_provider(
        {"UP": uptrend(), "DOWN": downtrend(), "FLAT": flat()}, now=SESSION_NOW
    )
    executor = ValidationExecutor()
    context = make_context(
        market_data=provider, executor=executor, required_timeframes=required_timeframes(nodes)
    )

    state, summaries = run(nodes, make_state(["UP", "DOWN", "FLAT"]), context)

    assert state.trigger.met is True
    assert state.symbols == ["UP", "DOWN"]
    assert state.intended_orders["UP"].side == TradeSide.BUY
    assert state.intended_orders["DOWN"].side == TradeSide.SELL
    for order in state.intended_orders.values():
        assert order.quantity >= 1
        assert order.submitted is False
        risk = (order.entry_price - order.stop_loss).copy_abs()
        assert abs(order.target_1 - order.entry_price) >= Decimal("1.5") * risk - Decimal("0.01")
    assert [request.symbol for request in executor.recorded] == ["UP", "DOWN"]
    assert state.reports["_summary"]["outcome"] == "orders_validated"
    assert state.reports["_summary"]["symbols"] == ["UP", "DOWN", "FLAT"]
    assert state.reports["FLAT"]["outcome"] == "no_trade"
    assert summaries["trade"].count("(recorded)") == 2
    assert state.errors == []
    assert PipelineState.model_validate(state.model_dump(mode="json")) == state


def test_a_screened_run_on_synthetic_data_goes_from_picker_to_report():
    loose = {"confidence_threshold": 0, "min_bias_score": 0}
    nodes = [
        ("picker", "stock_picker_agent", {"top_n": 5}),
        ("data", "market_data_agent", {}),
        ("bias", "bias_agent", loose),
        ("strategy", "strategy_agent", {"risk_reward_min": 1.0}),
        ("risk", "risk_manager_agent", {"min_risk_reward": 1.0}),
        ("trade", "trade_manager_agent", {}),
        ("report", "reporting_agent", {"summary_style": "detailed"}),
    ]
    context = make_context(
        market_data=SyntheticProvider(seed=7),
        news=SyntheticNews(seed=7),
        required_timeframes=required_timeframes(nodes),
    )

    state, summaries = run(nodes, make_state([]), context)

    picked = state.stock_picker_output["symbols_selected"]
    assert len(picked) == 5
    assert set(state.market_data) == set(picked)
    assert set(state.bias_results) == set(picked)
    assert state.intended_orders, "a loose pipeline over five stocks places at least one order"
    for symbol, order in state.intended_orders.items():
        decision = state.risk_approvals[symbol]
        signal = state.strategy_signals[symbol]
        assert decision.approved is True
        assert order.quantity == decision.position_size >= 1
        assert order.side == signal.action
        if order.side == TradeSide.BUY:
            assert order.stop_loss < order.entry_price < order.target_1 < order.target_2
        else:
            assert order.stop_loss > order.entry_price > order.target_1 > order.target_2
        assert decision.position_value <= decision.account_equity * Decimal("0.10")
    assert state.symbols == list(state.intended_orders)
    assert state.reports["_summary"]["symbols"] == picked
    assert all(summary for summary in summaries.values())
    assert PipelineState.model_validate(state.model_dump(mode="json")) == state
