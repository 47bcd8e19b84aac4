"""Pipeline writes: create, update, clone, delete; start, stop and resume executions."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.core.db import fetch_one_prepared
from config.core.errors import Conflict
from config.core.events import event_emit
from pipelines import hooks
from pipelines.graph import GraphCheck, validated_graph
from pipelines.models import (
    ACTIVE_EXECUTION_STATUSES,
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    RunMode,
    StepRun,
    StepStatus,
    TradingMode,
    TriggerSource,
)
from pipelines.schedules import schedule_validate
from pipelines.schemas import validate_mode_config, validate_pipeline_settings

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
MAX_SYMBOLS = 100
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")


def normalize_symbols(symbols: Any, *, field: str = "symbols") -> list[str]:
    if symbols is None:
        return []
    if not isinstance(symbols, list):
        raise ValidationError({field: "A list of ticker symbols, e.g. ['AAPL', 'MSFT']."})
    cleaned: list[str] = []
    for raw in symbols:
        symbol = str(raw).strip().upper()
        if not SYMBOL_PATTERN.match(symbol):
            raise ValidationError({field: f"{raw!r} is not a ticker symbol."})
        if symbol not in cleaned:
            cleaned.append(symbol)
    if len(cleaned) > MAX_SYMBOLS:
        raise ValidationError({field: f"At most {MAX_SYMBOLS} symbols."})
    return cleaned


def _clean_fields(fields: dict[str, Any], *, trading_mode: str) -> dict[str, Any]:
    cleaned = dict(fields)
    if "name" in cleaned:
        name = str(cleaned["name"] or "").strip()
        if not name:
            raise ValidationError({"name": "Give the pipeline a name."})
        cleaned["name"] = name[:255]
    if "symbols" in cleaned:
        cleaned["symbols"] = normalize_symbols(cleaned["symbols"])
    if "primary_timeframe" in cleaned and cleaned["primary_timeframe"] not in TIMEFRAMES:
        raise ValidationError({"primary_timeframe": f"One of {', '.join(TIMEFRAMES)}."})
    if "run_mode" in cleaned and cleaned["run_mode"] not in RunMode.values:
        raise ValidationError({"run_mode": f"One of {', '.join(RunMode.values)}."})
    if "settings" in cleaned:
        cleaned["settings"] = validate_pipeline_settings(cleaned["settings"] or {})
    if "schedule" in cleaned:
        cleaned["schedule"] = schedule_validate(cleaned["schedule"])
    if "mode_config" in cleaned:
        cleaned["mode_config"] = validate_mode_config(trading_mode, cleaned["mode_config"] or {})
    if cleaned.get("daily_budget") is not None:
        budget = Decimal(cleaned["daily_budget"])
        if not budget.is_finite() or budget < 0:
            raise ValidationError({"daily_budget": "A positive amount in USD, or empty."})
    return cleaned


def _name_taken(*, owner: User, name: str, exclude_pk=None) -> bool:
    """Pipeline names are unique per owner, compared without case (archived ones included:
    their runs and trades still carry the name)."""
    others = Pipeline.objects.filter(owner=owner, name__iexact=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


def _require_free_name(*, owner: User, name: str, exclude_pk=None) -> None:
    # Serialise name checks per owner: two saves racing with one name would both pass.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    if _name_taken(owner=owner, name=name, exclude_pk=exclude_pk):
        raise ValidationError(
            {"name": f"You already have a pipeline named “{name}”; choose another name."}
        )


def free_pipeline_name(*, owner: User, name: str) -> str:
    """`name`, or `name (2)`, `name (3)`… : the first one the owner does not use yet."""
    candidate, number = name[:255], 2
    while _name_taken(owner=owner, name=candidate):
        suffix = f" ({number})"
        candidate = f"{name[: 255 - len(suffix)]}{suffix}"
        number += 1
    return candidate


@transaction.atomic
def pipeline_create(
    *,
    owner: User,
    name: str,
    graph: dict[str, Any],
    trading_mode: str = TradingMode.SIMULATION,
    **fields: Any,
) -> tuple[Pipeline, GraphCheck]:
    if trading_mode == TradingMode.LIVE:
        raise ValidationError(
            {
                "trading_mode": (
                    "New pipelines start in a test mode; switch to LIVE with confirmation."
                )
            }
        )
    if trading_mode not in TradingMode.values:
        raise ValidationError({"trading_mode": f"One of {', '.join(TradingMode.values)}."})
    check = validated_graph(graph)
    fields.setdefault("mode_config", {})
    cleaned = _clean_fields({"name": name, **fields}, trading_mode=trading_mode)
    _require_free_name(owner=owner, name=cleaned["name"])
    pipeline = Pipeline.objects.create(
        owner=owner, graph=check.normalized, trading_mode=trading_mode, **cleaned
    )
    _check_run_mode(pipeline)
    return pipeline, check


@transaction.atomic
def pipeline_update(*, pipeline: Pipeline, **fields: Any) -> tuple[Pipeline, GraphCheck | None]:
    if "trading_mode" in fields:
        raise ValidationError(
            {"trading_mode": "Change the trading mode with PATCH /pipelines/{id}/mode."}
        )
    check = None
    if "graph" in fields:
        check = validated_graph(fields.pop("graph"))
        pipeline.graph = check.normalized
    cleaned = _clean_fields(fields, trading_mode=pipeline.trading_mode)
    if "name" in cleaned:
        _require_free_name(owner=pipeline.owner, name=cleaned["name"], exclude_pk=pipeline.pk)
    for key, value in cleaned.items():
        setattr(pipeline, key, value)
    pipeline.save()
    _check_run_mode(pipeline)
    if pipeline.status == PipelineStatus.ACTIVE:
        from pipelines.periodic import periodic_task_sync

        periodic_task_sync(pipeline=pipeline)
    return pipeline, check


@transaction.atomic
def pipeline_clone(*, pipeline: Pipeline, name: str | None = None) -> Pipeline:
    if name:
        _require_free_name(owner=pipeline.owner, name=name.strip()[:255])
    return Pipeline.objects.create(
        owner=pipeline.owner,
        name=name.strip()[:255]
        if name
        else free_pipeline_name(owner=pipeline.owner, name=f"{pipeline.name} (copy)"),
        description=pipeline.description,
        graph=pipeline.graph,
        settings=pipeline.settings,
        symbols=pipeline.symbols,
        primary_timeframe=pipeline.primary_timeframe,
        run_mode=pipeline.run_mode,
        trading_mode=(
            TradingMode.SIMULATION
            if pipeline.trading_mode == TradingMode.LIVE
            else pipeline.trading_mode
        ),
        mode_config=pipeline.mode_config,
        schedule=pipeline.schedule,
        signal_subscriptions=pipeline.signal_subscriptions,
        daily_budget=pipeline.daily_budget,
        template_key=pipeline.template_key,
        status=PipelineStatus.DRAFT,
    )


@transaction.atomic
def pipeline_delete(*, pipeline: Pipeline) -> None:
    from pipelines.periodic import periodic_task_remove

    if pipeline.executions.filter(status__in=ACTIVE_EXECUTION_STATUSES).exists():
        raise Conflict("Stop the pipeline's running execution before deleting it.")
    periodic_task_remove(pipeline=pipeline)
    pipeline.delete()


def _check_run_mode(pipeline: Pipeline) -> None:
    """A scheduled pipeline needs a schedule that says when."""
    if pipeline.run_mode != RunMode.RUN_SCHEDULED:
        return
    schedule = pipeline.schedule or {}
    kind = schedule.get("schedule_type")
    if not kind:
        raise ValidationError(
            {
                "schedule": "A scheduled pipeline needs a schedule (cron, market_open, interval or "
                "time_window)."
            }
        )
    if kind == "time_window" and not schedule.get("start_time"):
        raise ValidationError(
            {"schedule.start_time": "A time_window schedule starts at start_time."}
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


def live_mode_requirements(*, pipeline: Pipeline, confirmed: bool) -> dict[str, str]:
    """What stands between this pipeline and the mode LIVE (empty when nothing does)."""
    from django.conf import settings

    from trading.executors.factory import broker_connection_for
    from trading.money import signed_money
    from trading.selectors import closed_trade_stats

    missing: dict[str, str] = {}
    if not confirmed:
        missing["confirmed"] = (
            "LIVE trades real money: confirm that you understand the risk (confirmed: true)."
        )
    simulated, _ = closed_trade_stats(user=pipeline.owner, trading_mode=TradingMode.SIMULATION)
    paper, paper_pnl = closed_trade_stats(user=pipeline.owner, trading_mode=TradingMode.PAPER)
    needed_sim = settings.MODE_UNLOCK_SIMULATED_TRADES
    needed_paper = settings.MODE_UNLOCK_PAPER_TRADES
    progress = []
    if simulated < needed_sim:
        progress.append(f"{needed_sim} closed simulated trades (you have {simulated})")
    if paper < needed_paper:
        progress.append(f"{needed_paper} closed paper trades (you have {paper})")
    elif paper_pnl <= 0:
        progress.append(f"a positive paper P&L (yours is {signed_money(paper_pnl)})")
    if progress:
        missing["mode"] = "LIVE unlocks after " + " and ".join(progress) + "."
    connection = broker_connection_for(
        owner=pipeline.owner, mode=TradingMode.LIVE, connection=pipeline.broker_connection
    )
    if connection is None:
        missing["broker_connection"] = "Add your Alpaca live account in Settings first."
    elif not connection.is_verified:
        missing["broker_connection"] = "Verify your Alpaca live connection in Settings first."
    return missing


def paper_mode_requirements(*, pipeline: Pipeline) -> dict[str, str]:
    from django.conf import settings

    from trading.executors.factory import broker_connection_for
    from trading.selectors import closed_trade_stats

    missing: dict[str, str] = {}
    simulated, _ = closed_trade_stats(user=pipeline.owner, trading_mode=TradingMode.SIMULATION)
    if simulated < settings.MODE_UNLOCK_SIMULATED_TRADES:
        missing["mode"] = (
            f"PAPER unlocks after {settings.MODE_UNLOCK_SIMULATED_TRADES} closed simulated trades "
            f"(you have {simulated})."
        )
    connection = broker_connection_for(
        owner=pipeline.owner, mode=TradingMode.PAPER, connection=pipeline.broker_connection
    )
    if connection is None:
        missing["broker_connection"] = "Add your Alpaca paper account in Settings first."
    elif not connection.is_verified:
        missing["broker_connection"] = "Verify your Alpaca paper connection in Settings first."
    return missing


@transaction.atomic
def pipeline_mode_change(
    *, pipeline: Pipeline, changed_by: User, mode: str, confirmed: bool = False, reason: str = ""
) -> Pipeline:
    """Switch the trading mode after the §12.4 checks; every switch is audited."""
    from pipelines.models import PipelineModeChange
    from trading.executors.factory import broker_connection_for

    if mode not in TradingMode.values:
        raise ValidationError({"mode": f"One of {', '.join(TradingMode.values)}."})
    if mode == pipeline.trading_mode:
        raise ValidationError({"mode": f"The pipeline is already in {mode}."})
    if pipeline.executions.filter(status__in=ACTIVE_EXECUTION_STATUSES).exists():
        raise Conflict("Stop the running execution before changing the trading mode.")
    if mode == TradingMode.LIVE:
        missing = live_mode_requirements(pipeline=pipeline, confirmed=confirmed)
    elif mode == TradingMode.PAPER:
        missing = paper_mode_requirements(pipeline=pipeline)
    else:
        missing = {}
    if missing:
        raise ValidationError(missing)
    previous = pipeline.trading_mode
    if mode in (TradingMode.PAPER, TradingMode.LIVE):
        pipeline.broker_connection = broker_connection_for(
            owner=pipeline.owner, mode=mode, connection=pipeline.broker_connection
        )
    pipeline.trading_mode = mode
    pipeline.mode_config = validate_mode_config(mode, {})
    pipeline.mode_changed_at = timezone.now()
    pipeline.mode_changed_by = changed_by
    pipeline.mode_change_reason = reason[:1000]
    pipeline.save()
    PipelineModeChange.objects.create(
        pipeline=pipeline,
        changed_by=changed_by,
        from_mode=previous,
        to_mode=mode,
        confirmed=confirmed,
        reason=reason[:1000],
    )
    return pipeline


@transaction.atomic
def pipeline_clone_as_live(
    *, pipeline: Pipeline, changed_by: User, confirmed: bool, name: str | None = None
) -> Pipeline:
    """A LIVE copy of a test pipeline; the original is left untouched. All or nothing."""
    clone = pipeline_clone(
        pipeline=pipeline,
        name=name or free_pipeline_name(owner=pipeline.owner, name=f"{pipeline.name} (live)"),
    )
    return pipeline_mode_change(
        pipeline=clone,
        changed_by=changed_by,
        mode=TradingMode.LIVE,
        confirmed=confirmed,
        reason=f"Cloned as live from “{pipeline.name}”",
    )
