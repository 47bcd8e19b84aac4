"""Backtest writes: create (checked before anything runs), run (one write of the results at
the end), cancel; parameter sweeps fanned out as a Celery group."""

from __future__ import annotations

import copy
import itertools
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from agents.errors import BudgetExceeded
from config.core.events import event_emit
from pipelines.backtest.custom import custom_node, strategy_for, strategy_signals
from pipelines.backtest.engine import AT_CLOSE, NEXT_OPEN, Costs, History, run_backtest
from pipelines.backtest.histories import ARRAY_FIELDS, dataset_history, history_range
from pipelines.backtest.llm_budget import llm_client, llm_estimate, llm_needed, llm_node
from pipelines.backtest.plan import PlanError, plan_from_pipeline
from pipelines.backtest.saving import Replayed, results_save
from pipelines.backtest.sessions import bar_sessions
from pipelines.models import Backtest, BacktestStatus, BacktestSweep, Pipeline
from trading.models import Dataset

logger = logging.getLogger(__name__)
MAX_SWEEP_COMBINATIONS = 1_000
PROGRESS_WRITE_SECONDS = 0.5


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


def _seconds(moment: datetime | None) -> int | None:
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


def _check(pipeline: Pipeline, dataset: Dataset, settings: BacktestSettings, parameters: dict):
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
    lo = 0 if settings.start is None else np.searchsorted(seconds, _seconds(settings.start))
    hi = len(seconds) if settings.end is None else np.searchsorted(seconds, _seconds(settings.end))
    bars = _session_bar_count(dataset, int(lo), int(hi))
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


def _llm_estimate(plan, dataset: Dataset, settings: BacktestSettings) -> Decimal | None:
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
    history = dataset_history(dataset.pk).between(_seconds(settings.start), _seconds(settings.end))
    return llm_estimate(plan, history)[1]


def backtest_estimate(*, pipeline: Pipeline, dataset: Dataset, settings: BacktestSettings):
    """What a backtest would replay and spend, before it starts: (bars, LLM dollars or None)."""
    plan, bars = _check(pipeline, dataset, settings, {})
    return bars, _llm_estimate(plan, dataset, settings)


def _session_bar_count(dataset: Dataset, lo: int, hi: int) -> int:
    """Bars lo…hi of the dataset inside exchange sessions (only those are traded); kept on the
    instance, which a sweep passes to each of its backtests."""
    counts = dataset.__dict__.setdefault("_session_bar_counts", {})
    if (lo, hi) not in counts:
        seconds = np.frombuffer(bytes(dataset.open_seconds), dtype="<i8")[lo:hi]
        counts[lo, hi] = int((bar_sessions(seconds, dataset.timeframe) >= 0).sum())
    return counts[lo, hi]


def _checked_backtest(
    *,
    owner,
    pipeline: Pipeline,
    dataset: Dataset,
    settings: BacktestSettings,
    parameters: dict,
    sweep: BacktestSweep | None,
) -> Backtest:
    """A backtest checked as a run would check it, not saved yet."""
    plan, bars = _check(pipeline, dataset, settings, parameters)
    return Backtest(
        llm_budget=settings.llm_budget,
        llm_estimate=_llm_estimate(plan, dataset, settings),
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


@transaction.atomic
def backtest_create(
    *,
    owner,
    pipeline: Pipeline,
    dataset: Dataset,
    settings: BacktestSettings,
    parameters: dict | None = None,
    sweep: BacktestSweep | None = None,
    enqueue: bool = True,
) -> Backtest:
    """Check and record a backtest, then queue it (after commit)."""
    backtest = _checked_backtest(
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        settings=settings,
        parameters=parameters or {},
        sweep=sweep,
    )
    backtest.save(force_insert=True)
    if enqueue:
        from pipelines.tasks import backtest_run_task

        transaction.on_commit(lambda: backtest_run_task.delay(str(backtest.pk)))
    return backtest


def backtest_cancel(*, backtest: Backtest) -> Backtest:
    """Ask a running backtest to stop (it checks between steps); a waiting one stops now."""
    if Backtest.objects.filter(pk=backtest.pk, status=BacktestStatus.PENDING).update(
        status=BacktestStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    ):
        _emit(Backtest.objects.get(pk=backtest.pk))
    else:
        Backtest.objects.filter(pk=backtest.pk, status=BacktestStatus.RUNNING).update(
            cancel_requested=True
        )
    backtest.refresh_from_db()
    return backtest


def _emit(backtest: Backtest) -> None:
    event_emit(
        event="backtest_progress",
        owner_id=backtest.owner_id,
        backtest_id=str(backtest.pk),
        pipeline_id=str(backtest.pipeline_id),
        sweep_id=str(backtest.sweep_id) if backtest.sweep_id else None,
        status=backtest.status,
        bars_done=backtest.bars_done,
        bars_total=backtest.bars_total,
    )


def _history(backtest: Backtest) -> History:
    return history_between(backtest.dataset, backtest.starts_at, backtest.ends_at)


def history_between(dataset: Dataset, start: datetime | None, end: datetime | None) -> History:
    """A dataset's session bars opening in [start, end) (None: unbounded), as the engine reads
    them (cached per process: see histories.dataset_history)."""
    return history_range(dataset.pk, _seconds(start), _seconds(end))


def _plan(backtest: Backtest):
    return plan_from_pipeline(
        graph=graph_with(backtest.graph, backtest.parameters),
        schedule=backtest.pipeline.schedule,
        timeframe=backtest.dataset.timeframe,
        side=backtest.side,
    )


def _strategy_signals(backtest: Backtest, plan, history: History):
    """A custom strategy's answers over the history (one sandbox call per chunk of bars)."""
    if not plan.custom_strategy:
        return None
    node = custom_node(graph_with(backtest.graph, backtest.parameters))
    strategy = strategy_for(
        owner_id=backtest.owner_id, node=node, timeframe=backtest.dataset.timeframe
    )
    return strategy_signals(strategy, node, history)


def backtest_run(*, backtest_id) -> str | None:
    """Run a pending backtest: claim it, replay in memory, write the results once."""
    replayed = _replay(backtest_id)
    if not isinstance(replayed, Replayed):
        return replayed
    _save([replayed])
    return replayed.backtest.status


def _save(replays: list[Replayed]) -> None:
    """Write the replays' results together, then tell each backtest's page."""
    if not replays:
        return
    results_save(replays)
    for replay in replays:
        _emit(replay.backtest)


def _claimed(backtest_id) -> Backtest | None:
    """The backtest, now running, or None when it was not waiting (cancelled, or taken)."""
    if (
        Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.PENDING).update(
            status=BacktestStatus.RUNNING, started_at=timezone.now()
        )
        != 1
    ):
        return None
    return (
        Backtest.objects.select_related("dataset", "pipeline")
        .defer(*(f"dataset__{name}" for name in ARRAY_FIELDS))  # read once: dataset_history
        .get(pk=backtest_id)
    )


def _progress(backtest: Backtest):
    """The engine's progress callback: bars done written and sent every PROGRESS_WRITE_SECONDS
    of replay (none before: the start was just sent; none at the end: the results write sets
    bars done); answers False once a cancel was asked."""
    last_write = [time.monotonic()]

    def on_progress(done: int, total: int) -> bool:
        now = time.monotonic()
        if now - last_write[0] < PROGRESS_WRITE_SECONDS or done >= total:
            return True
        last_write[0] = now
        Backtest.objects.filter(pk=backtest.pk).update(bars_done=done)
        backtest.bars_done = done
        _emit(backtest)
        return not Backtest.objects.filter(pk=backtest.pk, cancel_requested=True).exists()

    return on_progress


def _replay(backtest_id) -> Replayed | str | None:
    """Claim and replay one backtest in memory. A failure is written at once (its status is
    returned); None when the backtest was not waiting."""
    backtest = _claimed(backtest_id)
    if backtest is None:
        return None
    _emit(backtest)
    started = time.monotonic()
    llm, meter = None, None
    try:
        history = _history(backtest)
        plan = _plan(backtest)
        if llm_needed(plan):
            llm, meter = llm_client(owner_id=backtest.owner_id, budget=backtest.llm_budget)
        result = run_backtest(
            history,
            plan,
            Costs(
                initial_cash=float(backtest.initial_cash),
                commission_pct=float(backtest.commission_pct),
                commission_per_share=float(backtest.commission_per_share),
                slippage_pct=float(backtest.slippage_pct),
                fill_at=backtest.fill_at,
            ),
            on_progress=_progress(backtest),
            signals=_strategy_signals(backtest, plan, history),
            llm=llm,
        )
    except Exception as error:  # a bug or bad data must end the row, not leave it running
        _failed(backtest, error, meter)
        return BacktestStatus.FAILED
    if meter is not None:
        Backtest.objects.filter(pk=backtest.pk).update(llm_cost=meter.run_token_cost)
    return Replayed(backtest, history, result, time.monotonic() - started)


def _failed(backtest: Backtest, error: Exception, meter) -> None:
    if isinstance(error, BudgetExceeded):
        cap = backtest.llm_budget or Decimal(0)
        message = (
            f"Stopped at the LLM budget (${cap}): {error}. Raise the budget, or switch the "
            "node to the rules engine, which costs nothing."
        )
    else:
        logger.exception("backtest %s failed", backtest.pk)
        message = str(error)
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.FAILED,
        error=message[:2000],
        finished_at=timezone.now(),
        llm_cost=meter.run_token_cost if meter is not None else Decimal(0),
    )
    backtest.refresh_from_db()
    _emit(backtest)


# --- sweeps ------------------------------------------------------------------------------------


def sweep_combinations(grid: dict) -> list[dict]:
    keys = sorted(grid)
    for key in keys:
        values = grid[key]
        if not isinstance(values, list) or not values:
            raise BacktestRefused(f"{key}: give a non-empty list of values.", field="grid")
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


@transaction.atomic
def sweep_create(
    *,
    owner,
    pipeline: Pipeline,
    dataset: Dataset,
    grid: dict,
    settings: BacktestSettings,
    chunk_size: int = 10,
) -> BacktestSweep:
    """One backtest per combination of the grid, checked now, run as a Celery group of
    chunks (`chunk_size` backtests a task): more workers finish sooner."""
    if not grid:
        raise BacktestRefused("The grid is empty: give node_id.field → values.", field="grid")
    combinations = sweep_combinations(grid)
    if len(combinations) > MAX_SWEEP_COMBINATIONS:
        raise BacktestRefused(
            f"{len(combinations)} combinations; at most {MAX_SWEEP_COMBINATIONS}.", field="grid"
        )
    sweep = BacktestSweep.objects.create(
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        grid=grid,
        settings={"fill_at": settings.fill_at, "side": settings.side},
        combinations=len(combinations),
        status=BacktestStatus.RUNNING,
    )
    # Every combination checked first, then all recorded in one INSERT (the request waits on it).
    backtests = Backtest.objects.bulk_create(
        [
            _checked_backtest(
                owner=owner,
                pipeline=pipeline,
                dataset=dataset,
                settings=settings,
                parameters=parameters,
                sweep=sweep,
            )
            for parameters in combinations
        ]
    )
    ids = [str(backtest.pk) for backtest in backtests]
    from pipelines.tasks import backtest_chunk_task

    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]

    def send():
        from celery import group

        group(backtest_chunk_task.s(chunk) for chunk in chunks).apply_async()

    transaction.on_commit(send)
    return sweep


def backtest_chunk_run(*, backtest_ids: list) -> list[str | None]:
    """Run one chunk of a sweep's backtests one after another in memory, write all their
    results in one transaction, then refresh the sweep."""
    replays = [_replay(backtest_id) for backtest_id in backtest_ids]
    _save([replay for replay in replays if isinstance(replay, Replayed)])
    first = Backtest.objects.filter(pk__in=backtest_ids).select_related("sweep").first()
    if first is not None and first.sweep is not None:
        sweep_refresh(sweep=first.sweep)
    return [
        replay.backtest.status if isinstance(replay, Replayed) else replay for replay in replays
    ]


def sweep_refresh(*, sweep: BacktestSweep) -> BacktestSweep:
    """Mark a sweep finished once none of its backtests waits or runs."""
    if (
        sweep.status == BacktestStatus.RUNNING
        and not sweep.backtests.filter(
            status__in=(BacktestStatus.PENDING, BacktestStatus.RUNNING)
        ).exists()
    ):
        if BacktestSweep.objects.filter(pk=sweep.pk, status=BacktestStatus.RUNNING).update(
            status=BacktestStatus.COMPLETED, finished_at=timezone.now()
        ):
            _emit_sweep(sweep)
        sweep.refresh_from_db()
    return sweep


def _emit_sweep(sweep: BacktestSweep) -> None:
    """The sweep page redraws its progress and table when its status changes."""
    event_emit(
        event="backtest_progress",
        owner_id=sweep.owner_id,
        sweep_id=str(sweep.pk),
        pipeline_id=str(sweep.pipeline_id),
        status=BacktestSweep.objects.values_list("status", flat=True).get(pk=sweep.pk),
    )


@transaction.atomic
def sweep_cancel(*, sweep: BacktestSweep) -> BacktestSweep:
    """Stop a sweep: combinations still waiting never run (a chunk skips them: it claims only
    waiting ones), the running ones stop between steps with their partial results."""
    if not BacktestSweep.objects.filter(pk=sweep.pk, status=BacktestStatus.RUNNING).update(
        status=BacktestStatus.CANCELLED, finished_at=timezone.now()
    ):
        sweep.refresh_from_db()
        return sweep
    sweep.backtests.filter(status=BacktestStatus.PENDING).update(
        status=BacktestStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    sweep.backtests.filter(status=BacktestStatus.RUNNING).update(cancel_requested=True)
    _emit_sweep(sweep)
    sweep.refresh_from_db()
    return sweep
