"""Walk-forward writes: create (checked before anything runs), run in a worker (progress per
window, cancel between windows, one write of the out-of-sample results), cancel."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from config.core.events import event_emit
from pipelines.backtest.checks import BacktestRefused, BacktestSettings, backtest_check
from pipelines.backtest.engine import Costs
from pipelines.backtest.llm_budget import llm_needed
from pipelines.backtest.services import history_between
from pipelines.backtest.sweep_services import sweep_combinations
from pipelines.backtest.walkforward import walk_forward, window_count
from pipelines.models import BacktestStatus, BacktestWalkForward, Pipeline
from trading.models import Dataset

logger = logging.getLogger(__name__)
# Each window runs every combination in-sample: combinations × windows backtests in all.
MAX_WALKFORWARD_RUNS = 5_000


def _settings_json(settings: BacktestSettings) -> dict:
    data = asdict(settings)
    return {
        key: (value.isoformat() if isinstance(value, datetime) else str(value))
        for key, value in data.items()
        if value is not None
    }


def _settings_from(data: dict) -> BacktestSettings:
    from decimal import Decimal

    return BacktestSettings(
        start=datetime.fromisoformat(data["start"]) if data.get("start") else None,
        end=datetime.fromisoformat(data["end"]) if data.get("end") else None,
        initial_cash=Decimal(data["initial_cash"]),
        commission_pct=Decimal(data["commission_pct"]),
        commission_per_share=Decimal(data["commission_per_share"]),
        slippage_pct=Decimal(data["slippage_pct"]),
        fill_at=data["fill_at"],
        side=data["side"],
    )


@transaction.atomic
def walkforward_create(
    *,
    owner,
    pipeline: Pipeline,
    dataset: Dataset,
    grid: dict,
    settings: BacktestSettings,
    in_sample_bars: int,
    out_of_sample_bars: int,
    enqueue: bool = True,
) -> BacktestWalkForward:
    """Check every combination and the windows now, record the analysis, queue it."""
    if not grid:
        raise BacktestRefused("The grid is empty: give node_id.field → values.", field="grid")
    combinations = sweep_combinations(grid)
    for parameters in combinations:
        plan, bars = backtest_check(pipeline, dataset, settings, parameters)
        # Hundreds of in-sample runs: rules engines only (no LLM spend, no sandboxed strategy).
        if plan.custom_strategy or llm_needed(plan):
            raise BacktestRefused(
                "Walk-forward replays rules engines only: switch LLM engines to 'rules' and "
                "use a built-in strategy, or backtest this pipeline once instead.",
                field="grid",
            )
    for name, value in (
        ("in_sample_bars", in_sample_bars),
        ("out_of_sample_bars", out_of_sample_bars),
    ):
        if value < 2:
            raise BacktestRefused(f"{name} must be at least 2 bars.", field=name)
    windows = window_count(bars, in_sample_bars, out_of_sample_bars)
    if not windows:
        raise BacktestRefused(
            f"The range has {bars} bars: fewer than one in-sample window ({in_sample_bars}) "
            f"plus one out-of-sample window ({out_of_sample_bars}).",
            field="in_sample_bars",
        )
    if len(combinations) * windows > MAX_WALKFORWARD_RUNS:
        raise BacktestRefused(
            f"{len(combinations)} combinations × {windows} windows = "
            f"{len(combinations) * windows} backtests; at most {MAX_WALKFORWARD_RUNS}.",
            field="grid",
        )
    walkforward = BacktestWalkForward.objects.create(
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        grid=grid,
        settings=_settings_json(settings),
        in_sample_bars=in_sample_bars,
        out_of_sample_bars=out_of_sample_bars,
        combinations=len(combinations),
        windows_total=windows,
    )
    if enqueue:
        from pipelines.tasks import walkforward_run_task

        transaction.on_commit(lambda: walkforward_run_task.delay(str(walkforward.pk)))
    return walkforward


def _emit(walkforward: BacktestWalkForward) -> None:
    event_emit(
        event="backtest_progress",
        owner_id=walkforward.owner_id,
        walkforward_id=str(walkforward.pk),
        pipeline_id=str(walkforward.pipeline_id),
        status=walkforward.status,
        windows_done=walkforward.windows_done,
        windows_total=walkforward.windows_total,
    )


def _day(seconds) -> str:
    return datetime.fromtimestamp(int(seconds), tz=UTC).date().isoformat()


def walkforward_run(*, walkforward_id) -> str | None:
    """Claim a waiting analysis, roll its windows (progress and cancel between windows), write
    the out-of-sample results once."""
    if not BacktestWalkForward.objects.filter(
        pk=walkforward_id, status=BacktestStatus.PENDING
    ).update(status=BacktestStatus.RUNNING, started_at=timezone.now()):
        return None
    walkforward = BacktestWalkForward.objects.select_related("dataset", "pipeline").get(
        pk=walkforward_id
    )
    _emit(walkforward)
    settings = _settings_from(walkforward.settings)

    def on_window(done: int) -> bool:
        BacktestWalkForward.objects.filter(pk=walkforward.pk).update(windows_done=done)
        walkforward.windows_done = done
        _emit(walkforward)
        return not BacktestWalkForward.objects.filter(
            pk=walkforward.pk, cancel_requested=True
        ).exists()

    try:
        history = history_between(walkforward.dataset, settings.start, settings.end)
        result = walk_forward(
            history=history,
            graph=walkforward.pipeline.graph,
            schedule=walkforward.pipeline.schedule,
            grid=walkforward.grid,
            costs=Costs(
                initial_cash=float(settings.initial_cash),
                commission_pct=float(settings.commission_pct),
                commission_per_share=float(settings.commission_per_share),
                slippage_pct=float(settings.slippage_pct),
                fill_at=settings.fill_at,
            ),
            in_sample_bars=walkforward.in_sample_bars,
            out_of_sample_bars=walkforward.out_of_sample_bars,
            side=settings.side,
            on_window=on_window,
        )
    except Exception as error:  # a bug or bad data must end the row, not leave it running
        logger.exception("walk-forward %s failed", walkforward.pk)
        BacktestWalkForward.objects.filter(pk=walkforward.pk).update(
            status=BacktestStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        walkforward.refresh_from_db()
        _emit(walkforward)
        return BacktestStatus.FAILED
    windows = [
        {
            **asdict(window),
            "out_of_sample_from": _day(history.open_seconds[window.out_of_sample[0]]),
            "out_of_sample_to": _day(history.open_seconds[window.out_of_sample[1] - 1]),
            "in_sample_from": _day(history.open_seconds[window.in_sample[0]]),
        }
        for window in result.windows
    ]
    cancelled = len(result.windows) < walkforward.windows_total
    BacktestWalkForward.objects.filter(pk=walkforward.pk).update(
        status=BacktestStatus.CANCELLED if cancelled else BacktestStatus.COMPLETED,
        windows=windows,
        windows_done=len(windows),
        out_of_sample_return_pct=result.out_of_sample_return_pct if windows else None,
        finished_at=timezone.now(),
    )
    walkforward.refresh_from_db()
    _emit(walkforward)
    return walkforward.status


def walkforward_cancel(*, walkforward: BacktestWalkForward) -> BacktestWalkForward:
    """A waiting analysis stops now; a running one after its current window."""
    if BacktestWalkForward.objects.filter(pk=walkforward.pk, status=BacktestStatus.PENDING).update(
        status=BacktestStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    ):
        walkforward.refresh_from_db()
        _emit(walkforward)
    else:
        BacktestWalkForward.objects.filter(pk=walkforward.pk, status=BacktestStatus.RUNNING).update(
            cancel_requested=True
        )
    walkforward.refresh_from_db()
    return walkforward
