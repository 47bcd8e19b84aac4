"""Execution writes: start one (one at a time per pipeline), the rows a signal's dispatcher
starts in bulk, stop, and sending a committed execution to the workers."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from config.core.db import fetch_one_prepared
from config.core.errors import Conflict
from config.core.events import event_emit
from pipelines import hooks
from pipelines.models import (
    ACTIVE_EXECUTION_STATUSES,
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    StepRun,
    StepStatus,
    TriggerSource,
)


def execution_enqueue(execution_id) -> None:
    """Send a (committed) execution to the workers."""
    from pipelines.tasks import execution_run_task

    execution_run_task.delay(str(execution_id))


def execution_start(
    *,
    pipeline: Pipeline,
    source: str = TriggerSource.MANUAL,
    detail: dict[str, Any] | None = None,
    enqueue: bool = True,
    now: datetime | None = None,
) -> PipelineExecution:
    """Create a pending execution and enqueue it after commit. One at a time per pipeline: a
    second start while one is pending, waiting or running is a Conflict (the database's partial
    unique index decides, so two simultaneous starts cannot both win). `enqueue=False` leaves
    the running to the caller (a worker running it in-process, a benchmark)."""
    if pipeline.status == PipelineStatus.ARCHIVED:
        raise Conflict("This pipeline is archived; clone it to run it again.")
    now = now or timezone.now()
    row = execution_row(pipeline=pipeline, source=source, detail=detail or {})
    if not _execution_insert(row, now):
        raise Conflict(
            "This pipeline already has an execution pending, waiting or running; "
            "stop it before starting another."
        )
    execution = PipelineExecution(
        id=row["id"],
        pipeline=pipeline,
        owner_id=pipeline.owner_id,
        status=ExecutionStatus.PENDING,
        trigger_source=source,
        trigger_detail=row["trigger_detail"],
        trading_mode=pipeline.trading_mode,
        graph=pipeline.graph,
        created_at=now,
        updated_at=now,
    )
    execution._state.adding = False
    execution._state.db = "default"
    if enqueue:
        transaction.on_commit(lambda: execution_enqueue(execution.pk))
    return execution


# New pending executions from rows of `execution_row`, as a CTE of a larger statement (the
# signal dispatcher writes them with the signal's log in one): INSERT … ON CONFLICT DO NOTHING,
# so `started` holds the ids the one-active-execution index let in — no savepoint, and a refused
# row does not abort the statement or a surrounding transaction. The manual start writes one
# row through it too, so the column list is kept in one place; bench/bench_persistence.py, 1000
# inserts each, back to back (2026-12-02, load average 5.3 on 2 cores): this statement p50
# 0.52 ms / p99 5.9 ms; the ORM (create in a savepoint, the index's refusal an IntegrityError)
# p50 1.15 ms / p99 4.8 ms (an earlier run, load 6.1: 4.57 / 32.0 ms against 7.87 / 37.0 ms).
# The dispatcher writes these rows with the signal's log in one statement
# (bench/bench_signals.py).
EXECUTIONS_INSERT_CTE = f"""started AS (
    INSERT INTO pipelines_pipelineexecution (
        id, pipeline_id, owner_id, status, trigger_source, trigger_detail, trading_mode, graph,
        created_at, updated_at
    )
    SELECT e.id, e.pipeline_id, e.owner_id, '{ExecutionStatus.PENDING}', e.trigger_source,
           e.trigger_detail, e.trading_mode, e.graph, %(created_at)s, %(created_at)s
      FROM jsonb_to_recordset(%(executions)s::jsonb) AS e(
           id uuid, pipeline_id uuid, owner_id bigint, trigger_source text, trigger_detail jsonb,
           trading_mode text, graph jsonb)
    ON CONFLICT DO NOTHING
    RETURNING id
)"""  # noqa: S608 - enum values; inputs are parameters


def execution_row(*, pipeline: Pipeline, source: str, detail: dict[str, Any]) -> dict[str, Any]:
    """A new pending execution of `pipeline`, as a row of EXECUTIONS_INSERT_CTE."""
    return {
        "id": uuid.uuid4(),
        "pipeline_id": pipeline.pk,
        "owner_id": pipeline.owner_id,
        "trigger_source": source,
        "trigger_detail": detail,
        "trading_mode": pipeline.trading_mode,
        "graph": pipeline.graph,
    }


def executions_params(rows: list[dict[str, Any]], *, now: datetime) -> dict[str, Any]:
    """The parameters of EXECUTIONS_INSERT_CTE."""
    return {"executions": json.dumps(rows, cls=DjangoJSONEncoder), "created_at": now}


def _execution_insert(row: dict[str, Any], now: datetime) -> bool:
    """Insert one new execution; False when the one-active-execution index refused it."""
    inserted = fetch_one_prepared(
        f"WITH {EXECUTIONS_INSERT_CTE} SELECT id FROM started",  # noqa: S608 - constant text
        executions_params([row], now=now),
    )
    return inserted is not None


@transaction.atomic
def execution_stop(*, execution: PipelineExecution, reason: str = "Stopped by the user.") -> bool:
    now = timezone.now()
    stopped = PipelineExecution.objects.filter(
        pk=execution.pk, status__in=ACTIVE_EXECUTION_STATUSES
    ).update(
        status=ExecutionStatus.CANCELLED,
        finished_at=now,
        error=reason,
        lease_owner="",
        lease_expires_at=None,
        next_check_at=None,
        updated_at=now,
    )
    if not stopped:
        return False
    StepRun.objects.filter(
        execution=execution, status__in=[StepStatus.RUNNING, StepStatus.WAITING]
    ).update(status=StepStatus.CANCELLED, finished_at=now, error=reason)
    event_emit(
        event="execution_completed",
        owner_id=execution.owner_id,
        execution_id=execution.pk,
        status=ExecutionStatus.CANCELLED,
        error_message=reason,
    )
    transaction.on_commit(
        lambda: hooks.execution_finished.send(
            sender=PipelineExecution, execution_id=execution.pk, pipeline_id=execution.pipeline_id
        )
    )
    return True


def signal_execution_row(
    *, pipeline: Pipeline, signal: dict[str, Any], symbols: list[str]
) -> dict[str, Any]:
    """The execution a signal that matched `pipeline` on `symbols` starts (a row of
    EXECUTIONS_INSERT_CTE): its trigger detail names the signal and carries its tickers."""
    detail = {
        "signal_id": signal.get("signal_id"),
        "signal_type": signal.get("signal_type"),
        "source": signal.get("source"),
        "symbols": symbols,
        "tickers": [t for t in signal.get("tickers", []) if t.get("ticker") in symbols],
    }
    return execution_row(pipeline=pipeline, source=TriggerSource.SIGNAL, detail=detail)
