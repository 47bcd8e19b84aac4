"""The dispatch record: the executions a signal starts, its log row and its matches, written
exactly once per signal (a redelivery replays instead)."""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.core.db import fetch_one_prepared, fetch_prepared, model_columns, model_from_row
from pipelines.models import (
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
)
from pipelines.services import (
    EXECUTIONS_INSERT_CTE,
    execution_enqueue,
    executions_params,
    signal_execution_row,
)
from signals.models import MatchOutcome, SignalEvent
from trading.selectors import held_symbols_sql


def dedup_key(*, signal_id: str, owner_id: int | None) -> str:
    return f"{owner_id if owner_id is not None else '-'}:{signal_id}"


@dataclass
class DispatchRecord:
    event_id: int
    matched: int
    started: list[uuid.UUID] = field(default_factory=list)
    replayed: bool = False  # this signal had been recorded before (a redelivered message)


def signal_dispatch_record(
    *,
    signal: dict[str, Any],
    owner_id: int | None,
    message_id: str,
    candidates: Mapping[str, Sequence[str]],
) -> DispatchRecord:
    """Start an execution for each matched pipeline and log the signal, in one statement; the
    Celery messages go out once it has committed, before this returns.

    Exactly once: the log row's unique dedup key commits together with the executions. A
    message redelivered after its first processing committed (the dispatcher died before acking)
    fails on that key, writes nothing, and only re-enqueues the first processing's still-pending
    executions — their first enqueue may be what was lost, and a second message for a pending
    execution is harmless (the worker's claim lets one through).
    """
    from pipelines.runmodes import start_blocker

    key = dedup_key(signal_id=signal["signal_id"], owner_id=owner_id)
    now = timezone.now()
    executions: list[dict[str, Any]] = []
    matches: list[dict[str, Any]] = []
    for pipeline in _matched_pipelines(list(candidates)) if candidates else []:
        if owner_id is not None and pipeline.owner_id != owner_id:
            continue  # the index already filters; a user's signal never crosses over
        symbols = list(candidates[str(pipeline.pk)])
        execution_id, reason = None, ""
        blocker = start_blocker(pipeline=pipeline, now=now)
        if blocker is None:
            outcome = MatchOutcome.STARTED  # unless the statement finds a run under way
            row = signal_execution_row(pipeline=pipeline, signal=signal, symbols=symbols)
            executions.append(row)
            execution_id = str(row["id"])
        elif pipeline.status != PipelineStatus.ACTIVE:
            outcome = MatchOutcome.INACTIVE
        else:
            outcome, reason = MatchOutcome.SKIPPED, blocker[:255]
        matches.append(
            {
                "owner_id": pipeline.owner_id,
                "pipeline_id": str(pipeline.pk),
                "execution_id": execution_id,
                "symbols": symbols,
                "outcome": outcome,
                "reason": reason,
            }
        )
    try:
        event_id, started = _signal_record_write(
            key=key,
            signal=signal,
            owner_id=owner_id,
            message_id=message_id,
            executions=executions,
            matches=matches,
            received_at=now,
        )
    except IntegrityError:
        existing = SignalEvent.objects.filter(dedup_key=key).first()
        if existing is None:
            raise  # not the dedup key: a real error
        return _replay(existing)
    for execution_id in started:
        transaction.on_commit(lambda execution_id=execution_id: execution_enqueue(execution_id))
    return DispatchRecord(event_id=event_id, matched=len(matches), started=started)


# The matched pipelines, whole (the start rules read the schedule, limits and mode, and a
# deferred field would cost a query each), each with the symbols of its open positions and of
# its simulated entries queued for the next open (an on-signal pipeline waits for its position
# to close), in one prepared statement. bench/bench_statements.py, 500 reads each, back to back
# (2026-12-02, load average 2.4 on 2 cores): for 10 pipelines this statement p50 0.75 ms / p99
# 1.1 ms; the ORM with the held symbols as an ArraySubquery of a UNION p50 2.54 ms / p99 3.1 ms,
# as two ArraySubquery merged in Python p50 2.48 / 3.9 ms, with trading.selectors.held_symbols
# per pipeline p50 13.3 / 18.8 ms; for 1 pipeline 0.28 / 0.51 ms against 2.05 / 2.5 ms (at load
# 5.1, 10 pipelines: 0.93 / 4.9 ms against 2.75 / 6.4 ms).
_MATCHED_PIPELINES_SQL = """
SELECT {columns},
       {held_symbols} AS open_symbols
  FROM {pipeline}
 WHERE {pipeline}.id = ANY(%(ids)s)
"""


@functools.cache
def _matched_pipelines_sql() -> str:
    return _MATCHED_PIPELINES_SQL.format(
        columns=model_columns(Pipeline),
        pipeline=Pipeline._meta.db_table,
        held_symbols=held_symbols_sql(f"{Pipeline._meta.db_table}.id"),
    )


def _matched_pipelines(pipeline_ids: list[str]) -> list[Pipeline]:
    pipelines = []
    for row in fetch_prepared(_matched_pipelines_sql(), {"ids": pipeline_ids}):
        values = iter(row)
        pipeline = model_from_row(Pipeline, values)
        pipeline.open_symbols = next(values)
        pipelines.append(pipeline)
    return pipelines


# The signal's executions, its log row and its matches in one statement (the dispatcher's hot
# path, atomic on its own): a repeat of the same dedup key fails on its unique index, which is
# how a redelivery is recognised, and then nothing is written. A match whose run the
# one-active-execution index refused is logged as skipped. bench/bench_statements.py, 500
# records each, back to back (2026-12-02, load average 2.4 on 2 cores): a signal matching 10
# pipelines, 2 of them with a run under way, this statement p50 1.49 ms / p99 2.2 ms; the ORM
# (in one transaction each run created in a savepoint, the index's refusal an IntegrityError,
# then the log row and the matches bulk-created) p50 12.6 ms / p99 16.8 ms; one match 0.84 /
# 2.5 ms against 2.75 / 7.2 ms (at load 5.0, 10 matches: 7.99 / 22.0 ms against 37.5 / 105 ms).
_SIGNAL_RECORD_SQL = (
    "WITH "  # noqa: S608 - constant text with the shared CTE; values are parameters
    + EXECUTIONS_INSERT_CTE
    + f""", event AS (
    INSERT INTO signals_signalevent (
        dedup_key, signal_id, signal_type, source, owner_id, tickers, signal_at, message_id,
        matched_count, started_count, received_at
    )
    VALUES (%(key)s, %(signal_id)s, %(signal_type)s, %(source)s, %(owner_id)s,
            %(tickers)s::jsonb, %(signal_at)s, %(message_id)s, %(matched_count)s,
            (SELECT count(*) FROM started), %(received_at)s)
    RETURNING id
), matches AS (
    INSERT INTO signals_signalmatch (
        event_id, owner_id, pipeline_id, execution_id, symbols, outcome, reason
    )
    SELECT event.id, m.owner_id, m.pipeline_id, started.id, m.symbols,
           CASE WHEN m.execution_id IS NOT NULL AND started.id IS NULL
                THEN '{MatchOutcome.SKIPPED}' ELSE m.outcome END,
           CASE WHEN m.execution_id IS NOT NULL AND started.id IS NULL
                THEN %(run_under_way)s ELSE m.reason END
      FROM event
     CROSS JOIN jsonb_to_recordset(%(matches)s::jsonb) AS m(
           owner_id bigint, pipeline_id uuid, execution_id uuid, symbols jsonb, outcome text,
           reason text)
      LEFT JOIN started ON started.id = m.execution_id
)
SELECT (SELECT id FROM event), ARRAY(SELECT id FROM started)
"""  # noqa: S608 - enum values; inputs are parameters
)
RUN_UNDER_WAY = "A run of this pipeline is already pending or running."


def _signal_record_write(
    *,
    key: str,
    signal: dict[str, Any],
    owner_id: int | None,
    message_id: str,
    executions: list[dict[str, Any]],
    matches: list[dict[str, Any]],
    received_at: datetime,
) -> tuple[int, list[uuid.UUID]]:
    params = {
        **executions_params(executions, now=received_at),
        "key": key,
        "signal_id": signal["signal_id"],
        "signal_type": signal["signal_type"],
        "source": signal["source"],
        "owner_id": owner_id,
        "tickers": json.dumps(signal["tickers"]),
        "signal_at": datetime.fromtimestamp(signal["timestamp"], tz=UTC),
        "message_id": message_id,
        "matched_count": len(matches),
        "received_at": received_at,
        "matches": json.dumps(matches),
        "run_under_way": RUN_UNDER_WAY,
    }
    # Inside a caller's transaction, a savepoint, so a refused dedup key leaves it usable; on
    # its own the statement is atomic and needs no BEGIN/COMMIT round trips.
    with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        event_id, started = fetch_one_prepared(_SIGNAL_RECORD_SQL, params)
    return event_id, list(started)


def _replay(event: SignalEvent) -> DispatchRecord:
    execution_ids = list(
        event.matches.filter(execution_id__isnull=False).values_list("execution_id", flat=True)
    )
    pending = list(
        PipelineExecution.objects.filter(
            pk__in=execution_ids, status=ExecutionStatus.PENDING
        ).values_list("pk", flat=True)
    )
    for execution_id in pending:
        execution_enqueue(execution_id)
    return DispatchRecord(event_id=event.pk, matched=event.matched_count, started=[], replayed=True)
