"""A pipeline's controls (spec §8): activate, pause, stop, and the pause when its budget is used
up. These write the pipeline's status and its waiting runs; runmodes decides when a cycle,
a scheduled run or the end of day calls them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from accounts.selectors import user_today
from accounts.services import notify
from config.core.errors import Conflict
from pipelines import periodic
from pipelines.models import (
    ACTIVE_EXECUTION_STATUSES,
    CYCLING_MODES,
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    RunMode,
    TriggerSource,
)


def pipeline_activate(*, pipeline: Pipeline, now: datetime | None = None) -> Pipeline:
    """Turn the pipeline on: schedules armed, a continuous pipeline's first cycle started, an
    on-signal pipeline listening (signals start its runs). A run-once pipeline runs once."""
    now = now or timezone.now()
    if pipeline.status == PipelineStatus.ARCHIVED:
        raise Conflict("This pipeline is archived; clone it to use it again.")
    if pipeline.run_mode == RunMode.RUN_ONCE:
        _run_once_on_activation(pipeline)  # a Conflict when a run is already under way
        return pipeline
    from billing.services import plan_check_activation

    plan_check_activation(owner=pipeline.owner, pipeline_id=pipeline.pk)
    # save(), not update(): other apps (the signal dispatcher's index) hear post_save.
    pipeline.status, pipeline.status_reason = PipelineStatus.ACTIVE, ""
    pipeline.save(update_fields=["status", "status_reason", "updated_at"])
    periodic.periodic_task_sync(pipeline=pipeline, now=now)
    if pipeline.run_mode in CYCLING_MODES:
        from pipelines.runmodes import cycle_start  # runmodes calls these controls

        cycle_start(pipeline=pipeline, now=now)
    elif pipeline.run_mode == RunMode.RUN_ON_SIGNAL:
        # Signals start its runs; a restart left waiting from before would hold the
        # one-active-execution slot and every signal would be skipped.
        PipelineExecution.objects.filter(
            pipeline=pipeline,
            status=ExecutionStatus.WAITING_TRIGGER,
            trigger_source=TriggerSource.RESTART,
        ).update(
            status=ExecutionStatus.CANCELLED,
            finished_at=now,
            error="On-signal pipelines run when a signal arrives.",
        )
    return pipeline


def _run_once_on_activation(pipeline: Pipeline) -> PipelineExecution:
    """Activating a run-once pipeline runs it once, now; the pipeline is not marked "Active"
    (nothing would ever happen while it said so) — its status stays as it was."""
    from pipelines.services import execution_start

    return execution_start(pipeline=pipeline, source=TriggerSource.MANUAL)


def pipeline_pause(*, pipeline: Pipeline) -> Pipeline:
    """No new runs start; a run in progress finishes."""
    pipeline.status, pipeline.status_reason = PipelineStatus.PAUSED, "Paused."
    pipeline.save(update_fields=["status", "status_reason", "updated_at"])
    periodic.periodic_task_remove(pipeline=pipeline)
    PipelineExecution.objects.filter(
        pipeline=pipeline,
        status=ExecutionStatus.WAITING_TRIGGER,
        trigger_source=TriggerSource.RESTART,
    ).update(status=ExecutionStatus.CANCELLED, finished_at=timezone.now(), error="Paused.")
    return pipeline


def pipeline_budget_exhausted(
    *, pipeline_id: UUID, reason: str, now: datetime | None = None
) -> bool:
    """A run found no budget left (§11.5): an active pipeline pauses, closes its positions if
    its settings say so, and the trader is told once — later refusals the same day (other
    runs, other cycles) change nothing. True when this call paused it."""
    from trading.executors.factory import executor_for_position
    from trading.models import CloseReason
    from trading.services import pipeline_positions_close

    now = now or timezone.now()
    with transaction.atomic():
        # Under the pipeline's row lock: concurrent refusals decide one after the other.
        pipeline = (
            Pipeline.objects.select_for_update().select_related("owner").filter(pk=pipeline_id)
        ).first()
        if pipeline is None:
            return False
        paused = pipeline.status == PipelineStatus.ACTIVE
        kind = f"budget:{pipeline.pk}:{user_today(pipeline.owner, at=now)}"
        if not paused and pipeline.owner.notifications.filter(kind=kind).exists():
            return False
        close = paused and (pipeline.settings or {}).get("close_positions_on_budget_exhausted")
        if paused:
            pipeline.status = PipelineStatus.PAUSED
            pipeline.status_reason = "Paused: the budget is used up."
            pipeline.save(update_fields=["status", "status_reason", "updated_at"])
            periodic.periodic_task_remove(pipeline=pipeline)
            PipelineExecution.objects.filter(
                pipeline=pipeline,
                status=ExecutionStatus.WAITING_TRIGGER,
                trigger_source=TriggerSource.RESTART,
            ).update(status=ExecutionStatus.CANCELLED, finished_at=now, error="Budget used up.")
        what = "It is paused" if paused else "Its runs are refused"
        if close:
            what += " and its open positions are being closed"
        notify(
            owner=pipeline.owner,
            title=f"“{pipeline.name}” is out of budget",
            message=f"{reason} {what} until you raise the limit or it resets.",
            level="warning",
            link=f"/pipelines/{pipeline.pk}/",
            kind=kind,
        )
    if close:
        pipeline_positions_close(
            owner=pipeline.owner,
            pipeline_id=pipeline.pk,
            reason=CloseReason.BUDGET,
            executor_for=executor_for_position,
            now=now,
        )
    return paused


def pipeline_stop(*, pipeline: Pipeline, reason: str = "Stopped.") -> Pipeline:
    """No new runs, and the one in progress (if any) is cancelled."""
    from pipelines.services import execution_stop

    pipeline.status, pipeline.status_reason = PipelineStatus.STOPPED, reason[:255]
    pipeline.save(update_fields=["status", "status_reason", "updated_at"])
    periodic.periodic_task_remove(pipeline=pipeline)
    for execution in pipeline.executions.filter(status__in=ACTIVE_EXECUTION_STATUSES):
        execution_stop(execution=execution, reason=reason)
    return pipeline
