"""The beat's sweeps over executions: those whose trigger is due to be checked again, and
those no worker is looking after (an expired lease, a lost message)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from pipelines.models import ExecutionStatus, PipelineExecution
from pipelines.services.executions import execution_enqueue


def executions_resume_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat sweep: executions whose trigger is due to be checked again go back to the queue."""
    now = now or timezone.now()
    due = list(
        PipelineExecution.objects.filter(
            status=ExecutionStatus.WAITING_TRIGGER, next_check_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    resumed = 0
    for execution_id in due:
        with transaction.atomic():
            moved = PipelineExecution.objects.filter(
                pk=execution_id, status=ExecutionStatus.WAITING_TRIGGER
            ).update(status=ExecutionStatus.PENDING, updated_at=now)
            if moved:
                resumed += 1
                transaction.on_commit(
                    lambda execution_id=execution_id: execution_enqueue(execution_id)
                )
    return resumed


# A pending execution whose message has not been picked up for this long is sent again.
PENDING_RESEND_AFTER = timedelta(minutes=5)


def executions_reap_stale(*, now: datetime | None = None, limit: int = 100) -> int:
    """Beat sweep for executions no worker is looking after; each goes to a fresh task, which
    claims it and resumes after its last finished step (a duplicate message finds it claimed).

    - running, with an expired lease: its worker (and message) died, e.g. the machine went down;
    - pending for `PENDING_RESEND_AFTER`: its message was lost (a broker restart), or the claim
      that took it was, with the rest of the run's uncommitted checkpoints, in a database
      crash. Sent again at most once per that period, so a long queue is not flooded."""
    now = now or timezone.now()
    stale = list(
        PipelineExecution.objects.filter(
            status=ExecutionStatus.RUNNING, lease_expires_at__lt=now
        ).values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic():
        forgotten = list(
            PipelineExecution.objects.select_for_update(skip_locked=True)
            .filter(status=ExecutionStatus.PENDING, updated_at__lt=now - PENDING_RESEND_AFTER)
            .values_list("pk", flat=True)[:limit]
        )
        PipelineExecution.objects.filter(pk__in=forgotten).update(updated_at=now)
        for execution_id in stale + forgotten:
            transaction.on_commit(lambda execution_id=execution_id: execution_enqueue(execution_id))
    return len(stale) + len(forgotten)
