"""Signals writes: scanners, pipeline subscriptions, publishing signals, the dispatch record
(executions started for a signal, exactly once), and the log's retention."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from accounts.models import User
from config.db import fetch_one_prepared, fetch_prepared, model_columns, model_from_row
from config.errors import Conflict
from pipelines.models import (
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    RunMode,
)
from pipelines.services import (
    EXECUTIONS_INSERT_CTE,
    execution_enqueue,
    executions_params,
    normalize_symbols,
    signal_execution_row,
)
from signals import catalog, conf, metrics
from signals.bus import SignalBus
from signals.models import MatchOutcome, Scanner, ScannerType, SignalEvent, SignalMatch
from signals.schemas import SignalMessage, TradingViewAlert
from trading.selectors import held_symbols_sql

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 20
DEMO_SCANNER_NAME = "Demo: big tech"
DEMO_SCANNER_TICKERS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META"]


# -- scanners ------------------------------------------------------------------------------------


def _scanner_name(name: Any) -> str:
    cleaned = str(name or "").strip()
    if not cleaned:
        raise ValidationError({"name": "Give the scanner a name, e.g. 'Tech stocks'."})
    return cleaned[:255]


def _scanner_type(scanner_type: Any) -> str:
    # Filter- and API-based scanners are later phases (§18.2); only manual lists exist now.
    if scanner_type not in (None, "", ScannerType.MANUAL):
        raise ValidationError({"scanner_type": "Only manual ticker lists exist for now."})
    return ScannerType.MANUAL


def scanner_tickers_clean(tickers: Any) -> list[str]:
    """Upper-cased, validated, de-duplicated tickers; at least one (ValidationError naming
    `tickers` otherwise)."""
    return _scanner_tickers(tickers)


def _scanner_tickers(tickers: Any) -> list[str]:
    cleaned = normalize_symbols(tickers, field="tickers")
    if not cleaned:
        raise ValidationError({"tickers": "List at least one ticker, e.g. AAPL."})
    return cleaned


@transaction.atomic
def scanner_create(
    *, owner: User, name: str, tickers: list[str], scanner_type: str = ScannerType.MANUAL
) -> Scanner:
    return Scanner.objects.create(
        owner=owner,
        name=_scanner_name(name),
        scanner_type=_scanner_type(scanner_type),
        tickers=_scanner_tickers(tickers),
    )


@transaction.atomic
def scanner_update(
    *, scanner: Scanner, name: str | None = None, tickers: list[str] | None = None
) -> Scanner:
    if name is not None:
        scanner.name = _scanner_name(name)
    if tickers is not None:
        scanner.tickers = _scanner_tickers(tickers)
    # save() sends post_save: running dispatchers pick up the new tickers at once.
    scanner.save()
    return scanner


@transaction.atomic
def scanner_delete(*, scanner: Scanner) -> None:
    """Refused (Conflict) while an active pipeline uses the scanner: deleting it would silently
    leave that pipeline with nothing to watch."""
    Scanner.objects.select_for_update().filter(pk=scanner.pk).first()
    active = list(
        scanner.pipelines.filter(status=PipelineStatus.ACTIVE).values_list("name", flat=True)[:5]
    )
    if active:
        raise Conflict(
            f"Scanner “{scanner.name}” is used by active pipelines ({', '.join(active)}); "
            "pause them or give them another scanner first."
        )
    scanner.delete()


def demo_scanner_seed(*, owner: User) -> Scanner | None:
    if Scanner.objects.filter(owner=owner, name=DEMO_SCANNER_NAME).exists():
        return None
    return scanner_create(owner=owner, name=DEMO_SCANNER_NAME, tickers=DEMO_SCANNER_TICKERS)


# -- subscriptions -------------------------------------------------------------------------------


def subscriptions_validate(raw: Any) -> list[dict]:
    """`[{signal_type, min_confidence}]` with known types, 0 ≤ min_confidence ≤ 100 (default 0),
    each type once. Raises ValidationError naming the offending entry."""
    field_name = "signal_subscriptions"
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError(
            {field_name: "A list like [{'signal_type': 'golden_cross', 'min_confidence': 80}]."}
        )
    if len(raw) > MAX_SUBSCRIPTIONS:
        raise ValidationError({field_name: f"At most {MAX_SUBSCRIPTIONS} subscriptions."})
    cleaned: dict[str, dict] = {}
    for position, entry in enumerate(raw):
        where = f"Subscription {position + 1}"
        if not isinstance(entry, dict):
            raise ValidationError({field_name: f"{where}: an object with signal_type."})
        signal_type = str(entry.get("signal_type") or "").strip().lower()
        if signal_type not in catalog.SIGNAL_TYPES:
            raise ValidationError(
                {
                    field_name: f"{where}: unknown signal type {entry.get('signal_type')!r}; "
                    f"one of {', '.join(catalog.known_signal_types())}."
                }
            )
        minimum = entry.get("min_confidence", 0)
        if minimum is None or minimum == "":
            minimum = 0
        try:
            if isinstance(minimum, bool):
                raise TypeError
            minimum = float(minimum)
        except (TypeError, ValueError):
            raise ValidationError(
                {field_name: f"{where} ({signal_type}): min_confidence is a number from 0 to 100."}
            ) from None
        if not 0 <= minimum <= 100:
            raise ValidationError(
                {field_name: f"{where} ({signal_type}): min_confidence must be between 0 and 100."}
            )
        if signal_type in cleaned:
            raise ValidationError({field_name: f"{where}: {signal_type} is listed twice."})
        cleaned[signal_type] = {
            "signal_type": signal_type,
            "min_confidence": int(minimum) if minimum.is_integer() else round(minimum, 2),
        }
    return list(cleaned.values())


def subscriptions_check_tier(*, user: User, subscriptions: list[dict]) -> None:
    """PermissionDenied (403) naming the first signal type the user's tier does not include."""
    tier = catalog.effective_tier(user)
    allowed = catalog.allowed_signal_types(tier)
    for entry in subscriptions:
        if entry["signal_type"] not in allowed:
            needed = catalog.required_tier(entry["signal_type"])
            raise PermissionDenied(
                f"The {entry['signal_type']} signal needs the {needed.title()} plan; "
                f"you are on {tier.title()}. Upgrade, or remove {entry['signal_type']}."
            )


@transaction.atomic
def pipeline_signal_settings_set(
    *, pipeline: Pipeline, scanner_id: int | None, signal_subscriptions: Any
) -> Pipeline:
    """Which scanner a pipeline watches and which signals start it."""
    subscriptions = subscriptions_validate(signal_subscriptions)
    subscriptions_check_tier(user=pipeline.owner, subscriptions=subscriptions)
    scanner = None
    if scanner_id is not None:
        # Another user's scanner reads as missing, the same as one that does not exist.
        scanner = Scanner.objects.filter(owner_id=pipeline.owner_id, pk=scanner_id).first()
        if scanner is None:
            raise ValidationError({"scanner_id": "No such scanner; create one under Scanners."})
    pipeline.scanner = scanner
    pipeline.signal_subscriptions = subscriptions
    pipeline.save(update_fields=["scanner", "signal_subscriptions", "updated_at"])
    return pipeline


def pipeline_listening_problem(pipeline: Pipeline) -> str:
    """Why signals would not start this pipeline now ("" when they would)."""
    if pipeline.run_mode != RunMode.RUN_ON_SIGNAL:
        return "Its run mode is not “Run on signal”; signals start it only in that mode."
    if pipeline.status != PipelineStatus.ACTIVE:
        return f"It is {pipeline.get_status_display().lower()}; signals start active pipelines."
    if not pipeline.signal_subscriptions:
        return "It subscribes to no signal type yet."
    if pipeline.scanner_id is None and not pipeline.symbols:
        return "It has no scanner and no symbols, so no ticker can match."
    return ""


# -- publishing ----------------------------------------------------------------------------------


def signal_publish(*, bus: SignalBus, signal: SignalMessage, owner_id: int | None = None) -> str:
    """Append a validated signal to the bus; counts successes and failures by source."""
    try:
        message_id = bus.publish(signal.as_dict(), owner_id=owner_id)
    except Exception:
        metrics.signal_publish_failure.labels(source=signal.source).inc()
        raise
    metrics.signal_publish_success.labels(source=signal.source).inc()
    return message_id


def _pydantic_errors(error: PydanticValidationError) -> list[dict]:
    return [
        {"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]


class SignalBodyInvalid(Exception):
    """A webhook body that is neither a §17.2 signal nor a TradingView alert (answered 422)."""

    def __init__(self, errors: list[dict]):
        super().__init__("invalid signal body")
        self.errors = errors


def webhook_signal_parse(body: bytes) -> SignalMessage:
    """A §17.2 signal (it has `tickers`), or a TradingView-style alert ({ticker, action, …})
    turned into one with signal_type "tradingview"."""
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a body nested thousands of levels deep is not a signal either.
        raise SignalBodyInvalid(
            [{"loc": ["body"], "msg": "The body must be JSON.", "type": "json_invalid"}]
        ) from None
    if not isinstance(data, dict):
        raise SignalBodyInvalid(
            [{"loc": ["body"], "msg": "The body must be a JSON object.", "type": "dict_type"}]
        )
    try:
        if "tickers" in data or "signal_type" in data:
            return SignalMessage.model_validate(data)
        if "ticker" in data or "action" in data:
            return TradingViewAlert.model_validate(data).to_signal()
    except PydanticValidationError as error:
        raise SignalBodyInvalid(_pydantic_errors(error)) from None
    raise SignalBodyInvalid(
        [
            {
                "loc": ["body", "tickers"],
                "msg": "Send a signal {timestamp, source, signal_id, signal_type, tickers} or a "
                "TradingView alert {ticker, action, price}.",
                "type": "missing",
            }
        ]
    )


def webhook_signal_receive(*, bus: SignalBus, user: User, body: bytes) -> tuple[SignalMessage, str]:
    """A user's own signal: it travels with their id, so it can only start their pipelines."""
    signal = webhook_signal_parse(body)
    return signal, signal_publish(bus=bus, signal=signal, owner_id=user.pk)


# -- dispatching ---------------------------------------------------------------------------------


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
# to close), in one prepared statement.
_MATCHED_PIPELINES_SQL = """
SELECT {columns},
       {held_symbols} AS open_symbols
  FROM pipelines_pipeline
 WHERE pipelines_pipeline.id = ANY(%(ids)s)
"""


@functools.cache
def _matched_pipelines_sql() -> str:
    return _MATCHED_PIPELINES_SQL.format(
        columns=model_columns(Pipeline),
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
# one-active-execution index refused is logged as skipped.
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


# -- retention -----------------------------------------------------------------------------------


def signal_log_cleanup(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete log rows older than SIGNAL_LOG_RETENTION_DAYS, in batches so no single
    transaction holds a long lock on the table the dispatcher writes to."""
    cutoff = (now or timezone.now()) - timedelta(days=conf.log_retention_days())
    deleted = 0
    while True:
        batch = list(
            SignalEvent.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not batch:
            return deleted
        with transaction.atomic():
            SignalMatch.objects.filter(event_id__in=batch).delete()
            SignalEvent.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
