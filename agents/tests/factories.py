"""Agent test factories: a context on crafted data, a state, agents built as the engine does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agents.base import BaseAgent
from agents.context import AgentContext, PipelineInfo
from agents.registry import create_agent
from agents.state import PipelineState
from agents.tests.providers import ScenarioNews
from trading.clock import ManualClock
from trading.executors.validation import ValidationExecutor

EXECUTION_ID = "7c1f3a52-9b0d-4e1a-8f3e-2d6c5b4a3f10"
# Tuesday 24 Nov 2026, 10:00 New York: a regular session two days before Thanksgiving.
SESSION_NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def make_context(
    *,
    now: datetime = SESSION_NOW,
    market_data=None,
    news=None,
    executor=None,
    required_timeframes: frozenset[str] = frozenset(),
    symbol_source=None,
    budget=None,
    llm: Any = None,
) -> AgentContext:
    return AgentContext(
        clock=ManualClock(now),
        market_data=market_data,
        news=news or ScenarioNews(),
        executor=executor or ValidationExecutor(),
        pipeline=PipelineInfo(
            pipeline_id="pipeline-1",
            name="Morning momentum",
            owner_id="7",
            trading_mode="VALIDATION",
            required_timeframes=required_timeframes,
            execution_id=EXECUTION_ID,
        ),
        symbol_source=symbol_source,
        budget=budget,
        llm=llm,
    )


def make_state(symbols: list[str] | None = None, **fields: Any) -> PipelineState:
    return PipelineState(
        pipeline_id="pipeline-1",
        execution_id=EXECUTION_ID,
        user_id="7",
        trading_mode="VALIDATION",
        symbols=list(symbols or []),
        **fields,
    )


def build_agent(
    agent_type: str, config: dict[str, Any] | None = None, node_id: str = ""
) -> BaseAgent:
    """An agent built the way the engine builds it: config validated, defaults filled in."""
    return create_agent(node_id or agent_type.split("_")[0], agent_type, config or {})
