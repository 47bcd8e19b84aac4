"""An execution's durable record while it runs: the lease a task holds it under, the claim that
takes it, and the statements that save its state at each step boundary and at the end of a
successful run (ARCHITECTURE §4). The engine (`pipelines.engine`) runs the steps; this module
writes what they leave behind."""

from __future__ import annotations

import functools
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import JSONField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import BrokerConnection, User
from agents.state import PipelineState
from billing.reservations import settle_cte
from billing.services import ledger_ctes
from config.core.db import fetch_one_prepared, model_columns, model_from_row
from config.core.events import event_emit
from pipelines import hooks
from pipelines.models import (
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    Report,
    StepStatus,
)

if TYPE_CHECKING:
    from pipelines.execution_setup import PlannedStep

logger = logging.getLogger(__name__)

# A running task renews its lease every HEARTBEAT (a step may take minutes: an LLM call), so the
# lease can be short: a worker that died is noticed LEASE after its last beat, and the reaper
# (every 30 s, config/core/beat.py) hands its run to a new task within about a minute and a quarter.
LEASE = timedelta(seconds=45)
HEARTBEAT = LEASE / 3

# The claim and the step boundaries are checkpoints, so they commit without waiting for their
# WAL flush (synchronous_commit off for the statement's own transaction only; the setting does
# not outlive it). A database crash can lose the last few hundred milliseconds of checkpoints,
# never a part of one, and WAL order keeps what survives a prefix of the run. The run is then
# back to pending, or RUNNING under an expiring lease: the reaper sends it to a new task, which
# replays the steps after the last surviving checkpoint — what a worker crash between a step's
# work and its checkpoint already causes. An order is committed synchronously under its
# client_order_id before the broker hears of it, so a replayed trade step finds it. The end of
# a run stays synchronous: its final record, its report and what follows them (after-run
# hooks, notifications) are not replayed.
_CHECKPOINT_CTE = """checkpoint AS (
    SELECT set_config('synchronous_commit', 'off', true)
)"""

# The claim: a pending execution, or a running one whose lease is this task's (a redelivery)
# or has expired (its worker is gone), loaded with its pipeline, owner and broker connection.
# bench/bench_persistence.py, 1000 claims each, back to back (2026-12-02, load average 6.2 on
# 2 cores): this statement p50 0.44 ms / p99 4.6 ms; the ORM (UPDATE, then a select_related
# SELECT, in a transaction) p50 5.42 ms / p99 13.0 ms.
_CLAIM_SQL = (
    "WITH "  # noqa: S608 - constant text with the shared CTEs; values are parameters
    + _CHECKPOINT_CTE
    + """, claimed AS (
    UPDATE pipelines_pipelineexecution
       SET status = '{running}', lease_owner = %(task_id)s, lease_expires_at = %(lease_expires_at)s,
           attempts = attempts + 1, started_at = COALESCE(started_at, %(now)s),
           next_check_at = NULL, updated_at = %(now)s
      FROM checkpoint
     WHERE id = %(execution_id)s
       AND (status = '{pending}'
            OR (status = '{running}'
                AND (lease_owner = %(task_id)s OR lease_expires_at < %(now)s)))
 RETURNING *
)
SELECT {columns}
  FROM claimed
  JOIN {pipeline} ON {pipeline}.id = claimed.pipeline_id
  JOIN {user} ON {user}.id = claimed.owner_id
  LEFT JOIN {broker_connection} ON {broker_connection}.id = {pipeline}.broker_connection_id
"""
)


@functools.cache
def _claim_sql() -> str:
    columns = ", ".join(
        [
            model_columns(PipelineExecution, "claimed"),
            model_columns(Pipeline),
            model_columns(User),
            model_columns(BrokerConnection),
        ]
    )
    return _CLAIM_SQL.format(
        columns=columns,
        running=ExecutionStatus.RUNNING,
        pending=ExecutionStatus.PENDING,
        pipeline=Pipeline._meta.db_table,
        user=User._meta.db_table,
        broker_connection=BrokerConnection._meta.db_table,
    )


def execution_claim(execution_id, task_id: str, now: datetime) -> PipelineExecution | None:
    """Take the execution for `task_id` and load it with its pipeline, owner and broker
    connection, in one statement; None when it is not this task's to run.

    One round trip and no query compilation: this starts every run."""
    row = fetch_one_prepared(
        _claim_sql(),
        {
            "execution_id": execution_id,
            "task_id": task_id,
            "now": now,
            "lease_expires_at": now + LEASE,
        },
    )
    if row is None:
        return None
    values = iter(row)
    execution = model_from_row(PipelineExecution, values)
    pipeline = model_from_row(Pipeline, values)
    owner = model_from_row(User, values)
    broker_connection = model_from_row(BrokerConnection, values)
    pipeline.owner = execution.owner = owner
    pipeline.broker_connection = broker_connection if broker_connection.pk is not None else None
    execution.pipeline = pipeline
    return execution


# The charge of the step a statement finishes, written only while `lease` (this task still holds
# the execution) yields a row.
LEDGER_AFTER_LEASE = ", " + ledger_ctes(only_if="lease")


class LeaseLost(Exception):
    """The execution was cancelled or taken over; stop without touching it."""


@dataclass(frozen=True)
class StepRef:
    pk: int
    attempts: int


# The previous step completed, in both statements that end a step; only if `lease` (this task
# still holds the execution) yields a row.
_FINISHED_STEP_CTE = f""", finished AS (
    UPDATE pipelines_steprun
       SET status = '{StepStatus.COMPLETED}', finished_at = %(now)s, duration_ms = %(duration_ms)s,
           tokens_in = %(tokens_in)s, tokens_out = %(tokens_out)s,
           agent_cost = %(agent_cost)s, token_cost = %(token_cost)s,
           output_summary = %(summary)s, engine = COALESCE(%(finished_engine)s, engine)
     WHERE id = %(finished_id)s AND EXISTS (SELECT 1 FROM lease)
)
"""  # noqa: S608 - enum values; inputs are parameters

# One statement per step boundary (ARCHITECTURE §4: a StepRun row when a step starts and when
# it ends, the state after every step): it renews the lease while saving the state, marks the
# previous step completed and starts (or, on a redelivery, restarts) the next one — all only if
# this task still holds the execution. Written as SQL because the engine's speed is dominated
# by round trips: this is one instead of six. A checkpoint (above). bench/bench_checkpoint.py,
# 2000 boundaries each, back to back (2026-12-02, load average 9.0 on 2 cores): this statement
# p50 0.41 ms / p99 8.8 ms; the same writes through the ORM (4 statements in a transaction)
# p50 8.61 ms / p99 25.2 ms.
STEP_BOUNDARY_SQL = (
    "WITH "  # noqa: S608 - constant text with the shared CTEs; values are parameters
    + _CHECKPOINT_CTE
    + f""", lease AS (
    UPDATE pipelines_pipelineexecution
       SET state = %(state)s::jsonb,
           market_data = COALESCE(%(market_data)s::jsonb, market_data),
           total_cost = %(total_cost)s,
           current_node = %(node_id)s,
           lease_expires_at = %(lease_expires_at)s,
           updated_at = %(now)s
      FROM checkpoint
     WHERE id = %(execution_id)s AND status = '{ExecutionStatus.RUNNING}'
       AND lease_owner = %(task_id)s
 RETURNING id
)"""  # noqa: S608 - enum values; inputs are parameters
    + _FINISHED_STEP_CTE
    + LEDGER_AFTER_LEASE
    + f"""
INSERT INTO pipelines_steprun (
    execution_id, node_id, agent_type, position, status, engine, started_at
)
SELECT id, %(node_id)s, %(agent_type)s, %(position)s, '{StepStatus.RUNNING}', %(engine)s, %(now)s
  FROM lease
ON CONFLICT (execution_id, node_id) DO UPDATE
   SET status = '{StepStatus.RUNNING}', started_at = EXCLUDED.started_at,
       attempts = pipelines_steprun.attempts + 1, error = ''
RETURNING id, attempts
"""  # noqa: S608 - enum values; inputs are parameters
)


# The report a completed run writes (the model's default type).
REPORT_OF_A_RUN = Report._meta.get_field("report_type").default

# The end of a successful run in one statement: the final state, the last step completed,
# the reservation settled, the report and the last charge — again only if this task still
# holds the execution. bench/bench_persistence.py, 1000 completions each, back to back
# (2026-12-02, load average 6.0 on 2 cores): this statement p50 3.19 ms / p99 9.9 ms; the
# ORM (5 statements in a transaction) p50 8.00 ms / p99 24.9 ms.
COMPLETION_SQL = (
    f"""
WITH lease AS (
    UPDATE pipelines_pipelineexecution
       SET state = %(state)s::jsonb,
           market_data = COALESCE(%(market_data)s::jsonb, market_data),
           total_cost = %(total_cost)s,
           status = '{ExecutionStatus.COMPLETED}', finished_at = %(now)s, current_node = '',
           lease_owner = '', lease_expires_at = NULL, updated_at = %(now)s
     WHERE id = %(execution_id)s AND status = '{ExecutionStatus.RUNNING}'
       AND lease_owner = %(task_id)s
 RETURNING id
)"""  # noqa: S608 - constant text with the shared CTEs; values are parameters
    + _FINISHED_STEP_CTE
    + ", "
    + settle_cte(only_if="lease")
    + f""", report AS (
    INSERT INTO pipelines_report (
        id, execution_id, pipeline_id, owner_id, report_type, title, summary, full_report,
        created_at
    )
    SELECT %(report_id)s, id, %(pipeline_id)s, %(owner_id)s, '{REPORT_OF_A_RUN}', %(report_title)s,
           %(report_summary)s, %(report)s::jsonb, %(now)s
      FROM lease
     WHERE %(report)s IS NOT NULL
)
"""  # noqa: S608 - enum values; inputs are parameters
    + LEDGER_AFTER_LEASE
    + f"""
SELECT id, EXISTS (
           SELECT 1 FROM pipelines_pipeline
            WHERE id = %(pipeline_id)s AND status = '{PipelineStatus.ACTIVE}'
              AND run_mode = ANY(%(cycling_modes)s)
       ) AS cycling
  FROM lease
"""  # noqa: S608 - enum values; inputs are parameters
)


@dataclass
class FinishedStep:
    """A step whose work is done; it is written together with the next step's start."""

    step_ref: StepRef

    step: PlannedStep
    pricing_rate: Decimal
    runtime: float
    summary: str
    agent_cost: Decimal
    usage: Any
    llm_calls: list
    engine: str | None = None  # "rules" when an llm-engine step fell back to rules


def finished_token_cost(finished: FinishedStep | None) -> Decimal:
    if finished is None:
        return Decimal(0)
    return sum((call.cost for call in finished.llm_calls), Decimal("0"))


def finished_params(finished: FinishedStep | None, token_cost: Decimal, now) -> dict[str, Any]:
    return {
        "finished_id": finished.step_ref.pk if finished else None,
        "duration_ms": round(finished.runtime * 1000, 3) if finished else None,
        "tokens_in": finished.usage.tokens_in if finished else 0,
        "tokens_out": finished.usage.tokens_out if finished else 0,
        "agent_cost": finished.agent_cost if finished else Decimal(0),
        "token_cost": token_cost,
        "summary": finished.summary if finished else "",
        "finished_engine": finished.engine if finished else None,
    }


def _market_data_fingerprint(state: PipelineState) -> tuple:
    """Which MarketData objects the state holds (agents replace, never mutate, them)."""
    return tuple((symbol, id(data)) for symbol, data in state.market_data.items())


def _jsonb(text: str) -> Cast:
    return Cast(Value(text), JSONField())


class ExecutionStateWriter:
    """The one writer of a running execution's state: every save — a step boundary, the end of
    a successful run, a run that waits or fails — serializes the state here, the same way, and
    only while `task_id` still holds the execution (LeaseLost otherwise). The market data, the
    bulk of a state, is written only when an agent replaced it since the last save."""

    def __init__(self, execution: PipelineExecution, *, task_id: str):
        self.execution_id = execution.pk
        self.task_id = task_id
        self._saved_market_data: tuple | None = None
        self._pending_market_data: tuple | None = None

    def loaded(self, state: PipelineState) -> None:
        """`state` is what the execution already holds (a new run's, or a resumed run's)."""
        self._saved_market_data = _market_data_fingerprint(state)

    def params(self, state: PipelineState, now: datetime) -> dict[str, Any]:
        """The state's parameters of STEP_BOUNDARY_SQL and COMPLETION_SQL."""
        state.updated_at = now
        fingerprint = _market_data_fingerprint(state)
        market_data = None
        if fingerprint != self._saved_market_data:
            # Each symbol's JSON straight from pydantic's serializer (no Python dict on the way).
            market_data = (
                "{"
                + ",".join(
                    f"{json.dumps(symbol)}:{data.model_dump_json()}"
                    for symbol, data in state.market_data.items()
                )
                + "}"
            )
        self._pending_market_data = fingerprint
        return {
            "state": state.model_dump_json(exclude={"market_data"}),
            "market_data": market_data,
            "total_cost": state.total_cost,
            "now": now,
            "execution_id": self.execution_id,
            "task_id": self.task_id,
        }

    def step_boundary(self, state: PipelineState, now: datetime, **params) -> StepRef:
        """Save the state with the previous step finished and the next one started (the
        STEP_BOUNDARY_SQL parameters beyond the state's in `params`); the started StepRun."""
        row = fetch_one_prepared(STEP_BOUNDARY_SQL, {**self.params(state, now), **params})
        if row is None:
            raise LeaseLost
        self._saved_market_data = self._pending_market_data
        return StepRef(pk=row[0], attempts=row[1])

    def complete(self, state: PipelineState, now: datetime, **params) -> bool:
        """Save the final state of a successful run (COMPLETION_SQL); whether its pipeline
        cycles."""
        row = fetch_one_prepared(COMPLETION_SQL, {**self.params(state, now), **params})
        if row is None:
            raise LeaseLost
        self._saved_market_data = self._pending_market_data
        return row[1]

    def release(self, state: PipelineState, now: datetime, **fields) -> None:
        """Save the state and let go of the execution: a run that waits for its trigger or
        failed (`fields`: its status and what goes with it). Rare, so through the ORM."""
        params = self.params(state, now)
        values = {"state": _jsonb(params["state"]), "total_cost": state.total_cost}
        if params["market_data"] is not None:
            values["market_data"] = _jsonb(params["market_data"])
        updated = PipelineExecution.objects.filter(
            pk=self.execution_id, status=ExecutionStatus.RUNNING, lease_owner=self.task_id
        ).update(**values, updated_at=now, lease_owner="", lease_expires_at=None, **fields)
        if not updated:
            raise LeaseLost
        self._saved_market_data = self._pending_market_data


class LeaseHeartbeat:
    """Renews this task's lease every HEARTBEAT on a thread of its own while the run goes on;
    it stops when the run ends or the lease is no longer ours (then the checkpoints, which
    check the lease too, stop the run). It only extends a lease: a step never runs twice
    because of it, since a takeover needs the lease expired, i.e. this process gone."""

    def __init__(self, *, execution_id, task_id: str, every: timedelta = HEARTBEAT):
        self.execution_id = execution_id
        self.task_id = task_id
        self.every = every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{execution_id}", daemon=True
        )

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    renewed = PipelineExecution.objects.filter(
                        pk=self.execution_id,
                        status=ExecutionStatus.RUNNING,
                        lease_owner=self.task_id,
                    ).update(lease_expires_at=timezone.now() + LEASE)
                except Exception:
                    logger.warning("lease heartbeat of %s failed", self.execution_id, exc_info=True)
                    continue  # the database may be back at the next beat
                if not renewed:
                    return
        finally:
            connection.close()  # this thread's connection


def execution_fail_before_start(
    execution: PipelineExecution, task_id: str, message: str, now
) -> None:
    """The run cannot start (e.g. PAPER without a broker connection): fail it, saying why."""
    with transaction.atomic():
        PipelineExecution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, lease_owner=task_id
        ).update(
            status=ExecutionStatus.FAILED,
            error=message,
            finished_at=now,
            lease_owner="",
            lease_expires_at=None,
        )
        event_emit(
            event="execution_completed",
            owner_id=execution.owner_id,
            execution_id=execution.pk,
            status=ExecutionStatus.FAILED,
            error_message=message,
        )
        transaction.on_commit(
            lambda: hooks.execution_finished.send(
                sender=PipelineExecution,
                execution_id=execution.pk,
                pipeline_id=execution.pipeline_id,
            )
        )
