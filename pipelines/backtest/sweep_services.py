"""Parameter sweep writes: one backtest per combination of a grid, checked at once and run as
a Celery group of chunks; a chunk's run, the sweep's end, and cancelling it."""

from __future__ import annotations

import itertools

from django.db import transaction
from django.utils import timezone

from config.core.events import event_emit
from pipelines.backtest.checks import BacktestRefused, BacktestSettings, checked_backtest
from pipelines.backtest.saving import Replayed
from pipelines.backtest.services import backtest_replay, replays_save
from pipelines.models import Backtest, BacktestStatus, BacktestSweep, Pipeline
from trading.models import Dataset

MAX_SWEEP_COMBINATIONS = 1_000


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
            checked_backtest(
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
    replays = [backtest_replay(backtest_id) for backtest_id in backtest_ids]
    replays_save([replay for replay in replays if isinstance(replay, Replayed)])
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
