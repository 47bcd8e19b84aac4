"""What a run starts from: its plan (the pipeline manager, then the graph's agents in
topological order), the context its agents work in, and its first state."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agents.builtin.pipeline_manager import PIPELINE_MANAGER_TYPE
from agents.context import AgentContext, PipelineInfo
from agents.errors import AgentError
from agents.metering import CostMeter
from agents.state import PipelineState
from billing.budget import PipelineBudgetGate
from pipelines import hooks
from pipelines.graph import required_timeframes, topological_order
from pipelines.models import PipelineExecution
from trading.clock import Clock
from trading.executors.factory import executor_for
from trading.marketdata.registry import market_data_provider, news_provider

PIPELINE_MANAGER_NODE = "pipeline-manager"


@dataclass(frozen=True)
class PlannedStep:
    node_id: str
    agent_type: str
    config: dict[str, Any]


def execution_plan(graph: dict[str, Any]) -> list[PlannedStep]:
    """The pipeline manager first, then the graph's nodes in topological order."""
    nodes = {node["id"]: node for node in graph.get("nodes", [])}
    edges = [(edge["from"], edge["to"]) for edge in graph.get("edges", [])]
    order = topological_order(list(nodes), edges)
    if order is None:
        raise AgentError("The pipeline graph has a cycle; edit the pipeline and save it again.")
    steps = [PlannedStep(PIPELINE_MANAGER_NODE, PIPELINE_MANAGER_TYPE, {})]
    steps += [
        PlannedStep(node_id, nodes[node_id]["agent_type"], nodes[node_id].get("config") or {})
        for node_id in order
    ]
    return steps


def build_context(execution: PipelineExecution, *, clock: Clock) -> AgentContext:
    pipeline = execution.pipeline
    market_data = market_data_provider()
    nodes = execution.graph.get("nodes", [])
    settings_ = pipeline.settings or {}
    max_cost = settings_.get("max_cost_per_run")
    return AgentContext(
        clock=clock,
        market_data=market_data,
        news=news_provider(),
        executor=executor_for(
            owner=execution.owner,
            mode=execution.trading_mode,
            mode_config=pipeline.mode_config or {},
            clock=clock,
            market_data=market_data,
            broker_connection=pipeline.broker_connection,
        ),
        pipeline=PipelineInfo(
            pipeline_id=str(pipeline.pk),
            name=pipeline.name,
            owner_id=str(execution.owner_id),
            trading_mode=execution.trading_mode,
            mode_config=pipeline.mode_config or {},
            settings=settings_,
            symbols=tuple(pipeline.symbols or ()),
            required_timeframes=frozenset(required_timeframes(nodes)),
            execution_id=str(execution.pk),
        ),
        meter=CostMeter(
            max_tokens_per_run=settings_.get("max_tokens_per_run"),
            max_cost_per_run=Decimal(str(max_cost)) if max_cost is not None else None,
        ),
        budget=PipelineBudgetGate(
            owner=execution.owner,
            pipeline_id=pipeline.pk,
            pipeline_daily_limit=pipeline.daily_budget,
            graph=execution.graph,
            execution_id=execution.pk,
            clock=clock,
        ),
        symbol_source=hooks.symbol_source_for(owner=execution.owner),
    )


def initial_state(execution: PipelineExecution) -> PipelineState:
    pipeline = execution.pipeline
    symbols = execution.trigger_detail.get("symbols") or pipeline.symbols or []
    return PipelineState(
        pipeline_id=str(pipeline.pk),
        execution_id=str(execution.pk),
        user_id=str(execution.owner_id),
        trading_mode=execution.trading_mode,
        primary_timeframe=pipeline.primary_timeframe,
        symbols=[str(symbol).upper() for symbol in symbols],
        metadata={"trigger_source": execution.trigger_source, **execution.trigger_detail},
    )
