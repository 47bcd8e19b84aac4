"""Run modes (spec §8): continuous cycles; on-signal position rules; scheduled runs; trading
windows and end-of-day handling; daily limits and their counters. The controls (activate,
pause, stop, budget pause) are services in `pipelines.lifecycle`."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.services import notify
from config.core.errors import Conflict
from pipelines import periodic
from pipelines.lifecycle import pipeline_budget_exhausted as pipeline_budget_exhausted
from pipelines.lifecycle import pipeline_stop
from pipelines.models import (
    ACTIVE_EXECUTION_STATUSES,
    CYCLING_MODES,
    ExecutionStatus,
    Pipeline,
    PipelineDailyStats,
    PipelineExecution,
    PipelineStatus,
    RunMode,
    TriggerSource,
)
from pipelines.schedules import ScheduleConfig, schedule_of
from trading.models import EODAction
from trading.money import money, signed_money
from trading.selectors import held_symbols

logger = logging.getLogger(__name__)


# --- Daily counters and limits ------------------------------------------------------------


def trading_day(schedule: ScheduleConfig, now: datetime) -> date:
    return now.astimezone(schedule.zone).date()


def daily_stats(*, pipeline: Pipeline, day: date) -> PipelineDailyStats:
    stats, _ = PipelineDailyStats.objects.get_or_create(pipeline=pipeline, date=day)
    return stats


def _count(pipeline: Pipeline, now: datetime, **increments) -> None:
    day = trading_day(schedule_of(pipeline), now)
    daily_stats(pipeline=pipeline, day=day)
    PipelineDailyStats.objects.filter(pipeline=pipeline, date=day).update(
        **{field: F(field) + value for field, value in increments.items()}
    )


def limit_hit(*, pipeline: Pipeline, now: datetime) -> str | None:
    """Which daily limit stops this pipeline today, with the figure; None when none does."""
    schedule = schedule_of(pipeline)
    if not (
        schedule.max_trades_per_day
        or schedule.max_executions_per_day
        or schedule.stop_on_daily_loss
        or schedule.stop_on_drawdown
    ):
        return None  # no limits: no need to read today's counters
    stats = PipelineDailyStats.objects.filter(
        pipeline=pipeline, date=trading_day(schedule, now)
    ).first()
    if stats is None:
        return None
    if schedule.max_trades_per_day and stats.trades_count >= schedule.max_trades_per_day:
        return (
            f"max_trades_per_day reached: {stats.trades_count} of "
            f"{schedule.max_trades_per_day} trades today"
        )
    if (
        schedule.max_executions_per_day
        and stats.executions_count >= schedule.max_executions_per_day
    ):
        return (
            f"max_executions_per_day reached: {stats.executions_count} of "
            f"{schedule.max_executions_per_day} runs today"
        )
    if schedule.stop_on_daily_loss and stats.daily_pnl <= -schedule.stop_on_daily_loss:
        return (
            f"stop_on_daily_loss hit: today's P&L is {signed_money(stats.daily_pnl)} "
            f"(limit {money(-schedule.stop_on_daily_loss)})"
        )
    if schedule.stop_on_drawdown:
        base = Decimal(str((pipeline.mode_config or {}).get("initial_balance", "100000")))
        drawdown = (stats.peak_pnl - stats.daily_pnl) / base * 100 if base else Decimal(0)
        if drawdown >= schedule.stop_on_drawdown:
            return (
                f"stop_on_drawdown hit: down {drawdown.quantize(Decimal('0.01'))}% from today's "
                f"peak (limit {schedule.stop_on_drawdown}%)"
            )
    return None


def _announce_limit(pipeline: Pipeline, reason: str, now: datetime) -> None:
    """Tell the trader once per day and limit which limit stopped the pipeline."""
    day = trading_day(schedule_of(pipeline), now)
    kind = f"limit:{pipeline.pk}:{day}:{reason.split(':')[0]}"
    if pipeline.owner.notifications.filter(kind=kind).exists():
        return
    PipelineDailyStats.objects.filter(pipeline=pipeline, date=day).update(limit_hit=reason)
    notify(
        owner=pipeline.owner,
        title=f"“{pipeline.name}” stopped for today",
        message=f"Daily limit — {reason}. It will not start again until tomorrow.",
        level="warning",
        link=f"/pipelines/{pipeline.pk}/",
        kind=kind,
    )


# --- Whether a pipeline may start now ------------------------------------------------------


def open_position_symbols(pipeline: Pipeline) -> list[str]:
    """The symbols of the pipeline's open positions and of its simulated entries queued for the
    next open; read from `open_symbols` when the query that loaded it brought them (the signal
    dispatcher decides many starts at once)."""
    annotated = getattr(pipeline, "open_symbols", None)
    if annotated is not None:
        return list(annotated)
    return held_symbols(pipeline_id=pipeline.pk)


def start_blocker(*, pipeline: Pipeline, now: datetime) -> str | None:
    """Why the pipeline may not start a run now (shown on its page), or None."""
    if pipeline.status != PipelineStatus.ACTIVE:
        return f"The pipeline is {pipeline.get_status_display().lower()}."
    schedule = schedule_of(pipeline)
    if not schedule.is_within_window(now):
        opens = schedule.next_window_start(now)
        when = f"; it opens {opens.astimezone(schedule.zone):%a %d %b %H:%M}" if opens else ""
        if schedule.has_window:
            return (
                f"Outside its trading window ({schedule.start_time}–{schedule.end_time} "
                f"{schedule.timezone}){when}."
            )
        return "Not an active day for this pipeline."
    if schedule.near_end(now):
        return "Less than 5 minutes before the window closes: no new cycle."
    reason = limit_hit(pipeline=pipeline, now=now)
    if reason:
        return f"Daily limit: {reason}."
    if pipeline.run_mode == RunMode.RUN_ON_SIGNAL:
        held = open_position_symbols(pipeline)
        if held:
            return f"Waiting for its {', '.join(held)} position to close."
    return None


def _set_reason(pipeline: Pipeline, reason: str | None) -> None:
    text = (reason or "")[:255]
    if pipeline.status_reason != text:
        Pipeline.objects.filter(pk=pipeline.pk).update(status_reason=text)
        pipeline.status_reason = text


def cycle_start(
    *,
    pipeline: Pipeline,
    now: datetime,
    delay: timedelta | None = None,
    source=TriggerSource.RESTART,
) -> PipelineExecution | None:
    """Start the next cycle of a continuous or on-signal pipeline if nothing stands in the way.
    With a delay the run waits in `waiting_trigger` until then (the beat sweep resumes it)."""
    from pipelines.services import execution_enqueue

    blocker = start_blocker(pipeline=pipeline, now=now)
    if blocker:
        if blocker.startswith("Daily limit"):
            _announce_limit(pipeline, blocker.removeprefix("Daily limit: ").rstrip("."), now)
        _set_reason(pipeline, blocker)
        return None
    start_at = now + delay if delay else now
    end = schedule_of(pipeline).window_end(now)
    if end is not None and start_at > end - timedelta(minutes=5):
        _set_reason(pipeline, "Less than 5 minutes before the window closes: no new cycle.")
        return None
    try:
        with transaction.atomic():
            execution = PipelineExecution.objects.create(
                pipeline=pipeline,
                owner_id=pipeline.owner_id,
                status=(ExecutionStatus.WAITING_TRIGGER if delay else ExecutionStatus.PENDING),
                next_check_at=start_at if delay else None,
                trigger_source=source,
                trading_mode=pipeline.trading_mode,
                graph=pipeline.graph,
            )
            _count(pipeline, now, executions_count=1)
            if not delay:
                transaction.on_commit(lambda: execution_enqueue(execution.pk))
    except IntegrityError:
        return None  # one is already pending, waiting or running
    _set_reason(pipeline, None)
    return execution


# --- After a run, after a trade -------------------------------------------------------------


def after_execution(
    *,
    execution_id: UUID,
    pipeline_id: UUID | None = None,
    cycling: bool | None = None,
    now: datetime | None = None,
) -> None:
    """Continuous and on-signal pipelines start their next cycle (after the cycle interval).

    `cycling`: whether the pipeline was active in a cycling mode when the run ended, if the
    caller already knows (the engine reads it in the statement that ends the run)."""
    now = now or timezone.now()
    if cycling is None:
        # Most runs end a run-once pipeline: one narrow look settles those without loading.
        cycling = (
            (
                Pipeline.objects.filter(pk=pipeline_id)
                if pipeline_id is not None
                else Pipeline.objects.filter(executions__pk=execution_id)
            )
            .filter(status=PipelineStatus.ACTIVE, run_mode__in=CYCLING_MODES)
            .exists()
        )
    if not cycling:
        return
    # Not the state, market data or graph: large JSON this needs none of.
    execution = (
        PipelineExecution.objects.select_related("pipeline", "pipeline__owner")
        .only("id", "status", "error", "pipeline")
        .filter(pk=execution_id)
        .first()
    )
    if execution is None:
        return
    pipeline = execution.pipeline
    if pipeline.status != PipelineStatus.ACTIVE or pipeline.run_mode not in CYCLING_MODES:
        return
    if execution.status == ExecutionStatus.CANCELLED:
        return
    if execution.status == ExecutionStatus.FAILED:
        notify(
            owner=pipeline.owner,
            title=f"“{pipeline.name}” run failed",
            message=execution.error,
            level="error",
            link=f"/executions/{execution.pk}/",
            kind=f"failed:{execution.pk}",
        )
    schedule = schedule_of(pipeline)
    cycle_start(
        pipeline=pipeline, now=now, delay=timedelta(minutes=schedule.cycle_interval_minutes)
    )


def after_trade_opened(*, pipeline_id: UUID | None, now: datetime | None = None) -> None:
    if pipeline_id is None:
        return
    now = now or timezone.now()
    pipeline = Pipeline.objects.filter(pk=pipeline_id).select_related("owner").first()
    if pipeline is None:
        return
    _count(pipeline, now, trades_count=1)
    reason = limit_hit(pipeline=pipeline, now=now)
    if reason:
        _announce_limit(pipeline, reason, now)
        _set_reason(pipeline, f"Daily limit: {reason}.")


def after_trades_closed(*, trades, now: datetime | None = None) -> None:
    """Count realized P&L against the day; an on-signal pipeline flat again stops saying it
    waits for its position (its next run starts with the next matching signal)."""
    now = now or timezone.now()
    by_pipeline: dict[UUID, Decimal] = {}
    for trade in trades:
        if trade.pipeline_id:
            by_pipeline[trade.pipeline_id] = (
                by_pipeline.get(trade.pipeline_id, 0) + trade.realized_pnl
            )
    for pipeline in Pipeline.objects.filter(pk__in=by_pipeline).select_related("owner"):
        day = trading_day(schedule_of(pipeline), now)
        daily_stats(pipeline=pipeline, day=day)
        # In SQL, not read-modify-write: closes land concurrently (monitor, close-all, EOD).
        # Every SET expression reads the row as it was, so the peak sees the new P&L.
        pnl = by_pipeline[pipeline.pk]
        PipelineDailyStats.objects.filter(pipeline=pipeline, date=day).update(
            daily_pnl=F("daily_pnl") + pnl,
            peak_pnl=Greatest(F("peak_pnl"), F("daily_pnl") + pnl),
            updated_at=now,
        )
        reason = limit_hit(pipeline=pipeline, now=now)
        if reason:
            _announce_limit(pipeline, reason, now)
            _set_reason(pipeline, f"Daily limit: {reason}.")
        elif pipeline.run_mode == RunMode.RUN_ON_SIGNAL and not open_position_symbols(pipeline):
            # Flat again: the next matching signal starts a run (nothing starts one here).
            _set_reason(pipeline, None)


# --- Scheduled runs ----------------------------------------------------------------------------


def scheduled_run(*, pipeline_id: UUID, now: datetime | None = None) -> PipelineExecution | None:
    """What a pipeline's PeriodicTask does: start a run if the day, window and limits allow."""
    from pipelines.services import execution_start

    now = now or timezone.now()
    pipeline = Pipeline.objects.filter(pk=pipeline_id).select_related("owner").first()
    if pipeline is None or pipeline.run_mode != RunMode.RUN_SCHEDULED:
        return None
    schedule = schedule_of(pipeline)
    execution = None
    blocker = start_blocker(pipeline=pipeline, now=now)
    if schedule.schedule_type == "market_open":
        local_day = now.astimezone(schedule.zone).date()
        from trading import calendar

        if not calendar.is_session(local_day):
            blocker = blocker or f"{local_day:%a %d %b} is not a trading day."
    if blocker is None:
        try:
            execution = execution_start(pipeline=pipeline, source=TriggerSource.SCHEDULE)
            _count(pipeline, now, executions_count=1)
        except Conflict:
            blocker = "The previous run is still going."
    _set_reason(pipeline, blocker)
    if pipeline.status == PipelineStatus.ACTIVE:
        periodic.periodic_task_sync(pipeline=pipeline, now=now)
    return execution


# --- Trading windows and end of day ----------------------------------------------------------


def end_of_day(*, pipeline: Pipeline, now: datetime, day: date | None = None) -> EODAction | None:
    """Past the window's end: flatten the pipeline's positions and/or stop it, as configured.
    Once per window (`day` is the local date the window closed on)."""
    from trading.executors.factory import executor_for_position
    from trading.services import eod_action_record, pipeline_flatten

    schedule = schedule_of(pipeline)
    day = day or trading_day(schedule, now)
    if EODAction.objects.filter(pipeline_id=pipeline.pk, action_date=day).exists():
        return None
    # A cycle waiting to start belongs to the closed window.
    PipelineExecution.objects.filter(
        pipeline=pipeline,
        status=ExecutionStatus.WAITING_TRIGGER,
        trigger_source=TriggerSource.RESTART,
    ).update(status=ExecutionStatus.CANCELLED, finished_at=now, error="The trading window ended.")
    if schedule.stop_pipeline_at_end:
        pipeline_stop(
            pipeline=pipeline, reason=f"Stopped at the end of its window ({schedule.end_time})."
        )
    if schedule.flatten_positions_at_end:
        action = pipeline_flatten(
            owner=pipeline.owner,
            pipeline_id=pipeline.pk,
            reason="End of trading window",
            executor_for=executor_for_position,
            pipeline_stopped=schedule.stop_pipeline_at_end,
            now=now,
            day=day,
            zone=schedule.zone,
        )
    else:
        action = eod_action_record(
            owner=pipeline.owner,
            pipeline_id=pipeline.pk,
            now=now,
            day=day,
            zone=schedule.zone,
            pipeline_stopped=schedule.stop_pipeline_at_end,
            reason="End of trading window",
        )
    parts = []
    if schedule.flatten_positions_at_end:
        parts.append(
            f"closed {action.positions_closed} position(s), P&L {signed_money(action.total_pnl)}"
            + (
                f"; could not close {', '.join(action.failed_symbols)}"
                if action.failed_symbols
                else ""
            )
        )
    if schedule.stop_pipeline_at_end:
        parts.append("stopped the pipeline")
    notify(
        owner=pipeline.owner,
        title=f"“{pipeline.name}”: end of its trading window ({schedule.end_time})",
        message=("End of day: " + " and ".join(parts) + ".") if parts else "End of day.",
        level="warning" if action.failed_symbols else "info",
        link=f"/pipelines/{pipeline.pk}/",
        kind=f"eod:{pipeline.pk}:{day}",
    )
    return action


def windows_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Every minute: end-of-day for windows that closed, first cycles for windows that opened."""
    now = now or timezone.now()
    ended = started = 0
    active = Pipeline.objects.filter(status=PipelineStatus.ACTIVE).select_related("owner")
    for pipeline in active:
        if not pipeline.schedule:
            continue
        schedule = schedule_of(pipeline)
        if not schedule.has_window:
            continue
        last_end = schedule.last_window_end(now)
        if (
            last_end is not None
            and not schedule.is_within_window(now)
            and now - last_end < timedelta(hours=12)
        ):
            day = last_end.astimezone(schedule.zone).date()
            if end_of_day(pipeline=pipeline, now=now, day=day):
                ended += 1
            continue
        if (
            pipeline.run_mode in CYCLING_MODES
            and schedule.is_within_window(now)
            and not pipeline.executions.filter(status__in=ACTIVE_EXECUTION_STATUSES).exists()
            and cycle_start(pipeline=pipeline, now=now)
        ):
            started += 1
    return {"ended": ended, "started": started}
