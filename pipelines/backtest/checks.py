"""A backtest's inputs and the checks before anything runs: the settings, what a run would
refuse (the plan, the timeframes, the range), whether it replays a language model and what
that may cost, and the backtest row they give, not saved yet."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from pipelines.backtest.custom import custom_node, strategy_for
from pipelines.backtest.engine import AT_CLOSE, NEXT_OPEN
from pipelines.backtest.histories import dataset_history
from pipelines.backtest.llm_budget import llm_estimate, llm_needed, llm_node
from pipelines.backtest.plan import PlanError, plan_from_pipeline
from pipelines.backtest.sessions import bar_sessions
from pipelines.models import Backtest, BacktestSweep, Pipeline
from trading.models import Dataset


class BacktestRefused(ValueError):
    """The backtest cannot start as asked; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class BacktestSettings:
    start: datetime | None = None
    end: datetime | None = None
    initial_cash: Decimal = Decimal("10000")
    commission_pct: Decimal = Decimal("0")
    commission_per_share: Decimal = Decimal("0")
    slippage_pct: Decimal = Decimal("0")
    fill_at: str = NEXT_OPEN
    side: str = "long"
    llm_budget: Decimal | None = None  # the hard cap on LLM spend (None: replay cache only)


def epoch_seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def graph_with(graph: dict, parameters: dict) -> dict:
    """The graph with `{"node_id.field": value}` overrides applied to its nodes' configs."""
    graph = copy.deepcopy(graph)
    nodes = {node["id"]: node for node in graph.get("nodes", [])}
    for key, value in (parameters or {}).items():
        node_id, _, field = key.partition(".")
        if node_id not in nodes or not field:
            raise BacktestRefused(
                f"{key!r} names no node of this pipeline (use node_id.field).", field="grid"
            )
        nodes[node_id].setdefault("config", {})[field] = value
    return graph


def backtest_check(
    pipeline: Pipeline, dataset: Dataset, settings: BacktestSettings, parameters: dict
):
    """Everything a run would refuse, refused now: the plan, the timeframes, the range."""
    if settings.fill_at not in (NEXT_OPEN, AT_CLOSE):
        raise BacktestRefused("fill_at is next_open or close.", field="fill_at")
    if settings.side not in ("long", "short", "both"):
        raise BacktestRefused("side is long, short or both.", field="side")
    if settings.initial_cash <= 0:
        raise BacktestRefused("Starting capital must be above zero.", field="initial_cash")
    for name in ("commission_pct", "commission_per_share", "slippage_pct"):
        value = getattr(settings, name)
        if value < 0 or value >= 10:
            raise BacktestRefused(f"{name} must be between 0 and 10.", field=name)
    try:
        plan = plan_from_pipeline(
            graph=graph_with(pipeline.graph, parameters),
            schedule=pipeline.schedule,
            timeframe=dataset.timeframe,
            side=settings.side,
        )
        if plan.custom_strategy:
            strategy_for(
                owner_id=pipeline.owner_id,
                node=custom_node(graph_with(pipeline.graph, parameters)),
                timeframe=dataset.timeframe,
            )
    except PlanError as error:
        raise BacktestRefused(str(error), field=error.field) from None
    from trading.marketdata.base import TIMEFRAMES

    finer = [
        tf for tf in plan.timeframes if TIMEFRAMES.index(tf) < TIMEFRAMES.index(dataset.timeframe)
    ]
    if finer or (dataset.timeframe == "1d" and plan.timeframes - {"1d"}):
        needed = ", ".join(sorted(plan.timeframes))
        raise BacktestRefused(
            f"The pipeline's conditions use {needed} bars; the dataset has {dataset.timeframe} "
            "bars, which cannot give them. Use a dataset of the finest timeframe it needs.",
            field="dataset_id",
        )
    if settings.start and settings.end and settings.end <= settings.start:
        raise BacktestRefused("The range is empty: end must come after start.", field="end")
    seconds = np.frombuffer(bytes(dataset.open_seconds), dtype="<i8")
    start, end = epoch_seconds(settings.start), epoch_seconds(settings.end)
    lo = 0 if start is None else np.searchsorted(seconds, start)
    hi = len(seconds) if end is None else np.searchsorted(seconds, end)
    bars = session_bar_count(dataset, int(lo), int(hi))
    if bars < 2:
        raise BacktestRefused(
            "The dataset has no bars in that range inside exchange sessions (fewer than two).",
            field="start",
        )
    return plan, bars


def pipeline_uses_llm(pipeline: Pipeline) -> bool:
    """Whether a backtest of this pipeline would ask a language model (an LLM engine it replays)."""
    try:
        plan = plan_from_pipeline(graph=pipeline.graph, schedule=pipeline.schedule, timeframe="1d")
    except PlanError:
        return False
    return llm_needed(plan)


def timeframe_needed(pipeline: Pipeline) -> str:
    """The coarsest bars a dataset may have for this pipeline to be backtested on it: the finest
    timeframe its conditions, bias and strategy read (1d when nothing finer, or when the graph
    cannot be planned yet — the start will say why)."""
    from trading.marketdata.base import TIMEFRAMES

    try:
        plan = plan_from_pipeline(graph=pipeline.graph, schedule=pipeline.schedule, timeframe="1d")
    except PlanError:
        return "1d"
    return min(plan.timeframes or {"1d"}, key=TIMEFRAMES.index)


def llm_spend_estimate(plan, dataset: Dataset, settings: BacktestSettings) -> Decimal | None:
    """What the plan's LLM engine would spend at most over the range (None: it has none)."""
    if not llm_needed(plan):
        return None
    from agents.llm.config import llm_settings

    if not llm_settings().configured:
        field, name = llm_node(plan)
        raise BacktestRefused(
            f"{name} uses the LLM engine and no language model is configured; "
            "switch it to 'rules' (free) to backtest it.",
            field=field,
        )
    history = dataset_history(dataset.pk).between(
        epoch_seconds(settings.start), epoch_seconds(settings.end)
    )
    return llm_estimate(plan, history)[1]


def backtest_estimate(*, pipeline: Pipeline, dataset: Dataset, settings: BacktestSettings):
    """What a backtest would replay and spend, before it starts: (bars, LLM dollars or None)."""
    plan, bars = backtest_check(pipeline, dataset, settings, {})
    return bars, llm_spend_estimate(plan, dataset, settings)


def session_bar_count(dataset: Dataset, lo: int, hi: int) -> int:
    """Bars lo…hi of the dataset inside exchange sessions (only those are traded); kept on the
    instance, which a sweep passes to each of its backtests."""
    counts = dataset.__dict__.setdefault("_session_bar_counts", {})
    if (lo, hi) not in counts:
        seconds = np.frombuffer(bytes(dataset.open_seconds), dtype="<i8")[lo:hi]
        counts[lo, hi] = int((bar_sessions(seconds, dataset.timeframe) >= 0).sum())
    return counts[lo, hi]


def checked_backtest(
    *,
    owner,
    pipeline: Pipeline,
    dataset: Dataset,
    settings: BacktestSettings,
    parameters: dict,
    sweep: BacktestSweep | None,
) -> Backtest:
    """A backtest checked as a run would check it, not saved yet."""
    plan, bars = backtest_check(pipeline, dataset, settings, parameters)
    return Backtest(
        llm_budget=settings.llm_budget,
        llm_estimate=llm_spend_estimate(plan, dataset, settings),
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        sweep=sweep,
        graph=pipeline.graph,
        parameters=parameters,
        starts_at=settings.start,
        ends_at=settings.end,
        initial_cash=settings.initial_cash,
        commission_pct=settings.commission_pct,
        commission_per_share=settings.commission_per_share,
        slippage_pct=settings.slippage_pct,
        fill_at=settings.fill_at,
        side=settings.side,
        bars_total=bars,
    )
