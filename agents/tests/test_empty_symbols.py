"""With no symbols left (nothing picked, all filtered), every per-symbol agent passes the run on."""

from __future__ import annotations

import pytest

from agents.tests.factories import build_agent, make_context, make_state
from agents.tests.providers import ScenarioProvider

PER_SYMBOL_AGENTS = [
    ("technical_trigger", {"conditions": [{"indicator": "RSI", "value": 70}]}, "check"),
    ("price_trigger", {"condition": "above", "level": 10}, "check"),
    ("news_trigger", {}, "check"),
    ("market_data_agent", {}, "fetch"),
    ("bias_agent", {}, "analyse"),
    ("strategy_agent", {}, "plan"),
    ("risk_manager_agent", {}, "size"),
    ("trade_manager_agent", {}, "trade"),
]


@pytest.mark.parametrize(("agent_type", "config", "verb"), PER_SYMBOL_AGENTS)
def test_it_returns_the_state_unchanged(agent_type, config, verb):
    state = make_state([])
    before = state.model_dump(mode="json")
    agent = build_agent(agent_type, config)

    after = agent.process(state, make_context(market_data=ScenarioProvider({})))

    assert after.model_dump(mode="json") == before
    assert agent.summarize(after) == f"No symbols left to {verb}"
