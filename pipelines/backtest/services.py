"""Backtest writes: create (checked first, by `pipelines.backtest.checks`), run (claimed,
replayed in memory, the results written once at the end), cancel; the progress each sends."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from agents.errors import BudgetExceeded
from config.core.events import event_emit
from pipelines.backtest.checks import (
    BacktestSettings,
    checked_backtest,
    epoch_seconds,
    graph_with,
)
from pipelines.backtest.custom import custom_node, strategy_for, strategy_signals
from pipelines.backtest.engine import Costs, History, run_backtest
from pipelines.backtest.histories import ARRAY_FIELDS, history_range
from pipelines.backtest.llm_budget import llm_client, llm_needed
from pipelines.backtest.plan import plan_from_pipeline
from pipelines.backtest.saving import Replayed, results_save
from pipelines.models import Backtest, BacktestStatus, BacktestSweep, Pipeline
from trading.models import Dataset

logger = logging.getLogger(__name__)
PROGRESS_WRITE_SECONDS = 0.5


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
    backtest = checked_backtest(
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
        backtest_progress_emit(Backtest.objects.get(pk=backtest.pk))
    else:
        Backtest.objects.filter(pk=backtest.pk, status=BacktestStatus.RUNNING).update(
            cancel_requested=True
        )
    backtest.refresh_from_db()
    return backtest


def backtest_progress_emit(backtest: Backtest) -> None:
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
    return history_range(dataset.pk, epoch_seconds(start), epoch_seconds(end))


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
    replayed = backtest_replay(backtest_id)
    if not isinstance(replayed, Replayed):
        return replayed
    replays_save([replayed])
    return replayed.backtest.status


def replays_save(replays: list[Replayed]) -> None:
    """Write the replays' results together, then tell each backtest's page."""
    if not replays:
        return
    results_save(replays)
    for replay in replays:
        backtest_progress_emit(replay.backtest)


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
        backtest_progress_emit(backtest)
        return not Backtest.objects.filter(pk=backtest.pk, cancel_requested=True).exists()

    return on_progress


def backtest_replay(backtest_id) -> Replayed | str | None:
    """Claim and replay one backtest in memory. A failure is written at once (its status is
    returned); None when the backtest was not waiting."""
    backtest = _claimed(backtest_id)
    if backtest is None:
        return None
    backtest_progress_emit(backtest)
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
    backtest_progress_emit(backtest)
