"""Hand-written statements against the same writes through the ORM, back to back: the engine's
claim and completion (pipelines.execution_state), the manual start's execution INSERT
(pipelines.services), the budget reservation (billing.reservations), the charge of a step on
its own (billing.services.CHARGE_SQL) and the budget gate's spend read
(billing.selectors.spend_summary). Each pair runs
alternately, in rounds, on the same rows, so a busy machine slows both alike. The figures
decide whether a statement stays hand-written: the comment beside each one quotes them (the
step boundary has bench/bench_checkpoint.py).

Run with `make bench` (or `uv run python bench/bench_persistence.py [each]`).
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from common import alternate, bench_user, fresh_tables, print_timings, setup_django

TASK = "bench"
GRAPH = {
    "nodes": [
        {
            "id": "trigger",
            "agent_type": "price_trigger",
            "config": {"condition": "above", "level": 0.01},
        },
        {"id": "report", "agent_type": "reporting_agent", "config": {}},
    ],
    "edges": [{"from": "trigger", "to": "report"}],
}
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _pipeline(user):
    from pipelines import services
    from pipelines.models import Pipeline

    Pipeline.objects.filter(owner=user).delete()
    fresh_tables(user)
    pipeline, _ = services.pipeline_create(
        owner=user, name="bench persistence", graph=GRAPH, symbols=["TSLA"]
    )
    return pipeline


def _relaxed_commit() -> None:
    """The checkpoints' durability (the claim's statement sets it in a CTE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


# --- the claim --------------------------------------------------------------------------------


def _raw_claim(execution_id):
    from pipelines.execution_state import execution_claim

    return execution_claim(execution_id, TASK, NOW)


def _orm_claim(execution_id):
    from django.db import transaction
    from django.db.models import F, Q
    from django.db.models.functions import Coalesce

    from pipelines.execution_state import LEASE
    from pipelines.models import ExecutionStatus, PipelineExecution

    running = ExecutionStatus.RUNNING
    with transaction.atomic():
        _relaxed_commit()
        claimed = (
            PipelineExecution.objects.filter(pk=execution_id)
            .filter(
                Q(status=ExecutionStatus.PENDING)
                | Q(status=running, lease_owner=TASK)
                | Q(status=running, lease_expires_at__lt=NOW)
            )
            .update(
                status=running,
                lease_owner=TASK,
                lease_expires_at=NOW + LEASE,
                attempts=F("attempts") + 1,
                started_at=Coalesce("started_at", NOW),
                next_check_at=None,
                updated_at=NOW,
            )
        )
        if not claimed:
            return None
        return PipelineExecution.objects.select_related(
            "owner", "pipeline__owner", "pipeline__broker_connection"
        ).get(pk=execution_id)


# --- the completion ---------------------------------------------------------------------------


def _completion_params(execution, step_id):
    from billing.services import ledger_params
    from pipelines.models import CYCLING_MODES

    return {
        "state": '{"reports": {}}',
        "market_data": None,
        "total_cost": Decimal("0.01"),
        "now": NOW,
        "execution_id": execution.pk,
        "task_id": TASK,
        "finished_id": step_id,
        "duration_ms": 1.5,
        "tokens_in": 0,
        "tokens_out": 0,
        "agent_cost": Decimal("0.0001"),
        "token_cost": Decimal(0),
        "summary": "done",
        "finished_engine": None,
        "report_id": uuid.uuid4(),
        "pipeline_id": execution.pipeline_id,
        "owner_id": execution.owner_id,
        "report_title": "bench — run report",
        "report_summary": "",
        "report": '{"_summary": {}}',
        **ledger_params(None, owner=execution.owner, pipeline_id=execution.pipeline_id, at=NOW),
        "cycling_modes": list(CYCLING_MODES),
    }


def _raw_complete(execution, step_id):
    from config.core.db import fetch_one_prepared
    from pipelines.execution_state import COMPLETION_SQL

    row = fetch_one_prepared(COMPLETION_SQL, _completion_params(execution, step_id))
    assert row is not None
    return row[1]


def _orm_complete(execution, step_id):
    from django.db import transaction

    from billing.models import BudgetReservation, ReservationStatus
    from pipelines.models import (
        CYCLING_MODES,
        ExecutionStatus,
        Pipeline,
        PipelineExecution,
        PipelineStatus,
        Report,
        StepRun,
        StepStatus,
    )

    with transaction.atomic():
        held = PipelineExecution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, lease_owner=TASK
        ).update(
            state={"reports": {}},
            total_cost=Decimal("0.01"),
            status=ExecutionStatus.COMPLETED,
            finished_at=NOW,
            current_node="",
            lease_owner="",
            lease_expires_at=None,
            updated_at=NOW,
        )
        assert held
        StepRun.objects.filter(pk=step_id).update(
            status=StepStatus.COMPLETED,
            finished_at=NOW,
            duration_ms=1.5,
            agent_cost=Decimal("0.0001"),
            output_summary="done",
        )
        BudgetReservation.objects.filter(
            execution_id=execution.pk, status=ReservationStatus.HELD
        ).update(status=ReservationStatus.SETTLED, updated_at=NOW)
        Report.objects.create(
            execution_id=execution.pk,
            pipeline_id=execution.pipeline_id,
            owner_id=execution.owner_id,
            title="bench — run report",
            summary="",
            full_report={"_summary": {}},
        )
        return Pipeline.objects.filter(
            pk=execution.pipeline_id, status=PipelineStatus.ACTIVE, run_mode__in=CYCLING_MODES
        ).exists()


def _run_again(execution) -> None:
    """Back to RUNNING under the bench's lease (not timed)."""
    from pipelines.models import ExecutionStatus, PipelineExecution

    PipelineExecution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.RUNNING, lease_owner=TASK, lease_expires_at=NOW + timedelta(hours=1)
    )


# --- the manual start's INSERT ----------------------------------------------------------------


def _raw_insert(pipeline):
    from pipelines import services

    row = services.execution_row(pipeline=pipeline, source="manual", detail={})
    assert services._execution_insert(row, NOW)
    return row["id"]


def _orm_insert(pipeline):
    from django.db import IntegrityError, transaction

    from pipelines.models import ExecutionStatus, PipelineExecution

    try:
        with transaction.atomic():
            execution = PipelineExecution.objects.create(
                pipeline=pipeline,
                owner_id=pipeline.owner_id,
                status=ExecutionStatus.PENDING,
                trigger_source="manual",
                trigger_detail={},
                trading_mode=pipeline.trading_mode,
                graph=pipeline.graph,
            )
    except IntegrityError:  # the one-active-execution index: a Conflict
        raise AssertionError("refused") from None
    return execution.pk


# --- the budget reservation -------------------------------------------------------------------


def _raw_reserve(owner, execution):
    from billing.reservations import budget_reserve

    return budget_reserve(
        owner=owner,
        pipeline_id=execution.pipeline_id,
        pipeline_daily_limit=None,
        execution_id=execution.pk,
        remaining_estimate=Decimal("0.01"),
        at=NOW,
    )


def _held_by_others(owner, execution, today, month_start):
    from django.db.models import Exists, F, OuterRef, Q, Sum, Value
    from django.db.models.functions import Coalesce, Greatest

    from billing.models import BudgetReservation, ReservationStatus
    from pipelines.models import ExecutionStatus, PipelineExecution

    active = PipelineExecution.objects.filter(
        pk=OuterRef("execution_id"),
        status__in=[ExecutionStatus.PENDING, ExecutionStatus.RUNNING],
    )
    unspent = Greatest(
        F("amount")
        - PipelineExecution.objects.filter(pk=OuterRef("execution_id")).values("total_cost"),
        Value(Decimal(0)),
    )
    zero = Value(Decimal(0))
    return (
        BudgetReservation.objects.filter(
            Exists(active),
            owner=owner,
            status=ReservationStatus.HELD,
            day__gte=month_start,
        )
        .exclude(execution_id=execution.pk)
        .aggregate(
            month=Coalesce(Sum(unspent), zero),
            today=Coalesce(Sum(unspent, filter=Q(day=today)), zero),
            pipe=Coalesce(
                Sum(unspent, filter=Q(day=today, pipeline_id=execution.pipeline_id)), zero
            ),
        )
    )


def _orm_reserve(owner, execution):
    """The same check and reservation through the ORM: the advisory lock (no ORM form), the
    roll-up's and the other runs' sums, then the upsert."""
    from django.db import connection, transaction
    from django.db.models import Q, Sum, Value
    from django.db.models.functions import Coalesce

    from accounts.selectors import user_today
    from billing.models import BudgetReservation, DailyCost, ReservationStatus
    from billing.reservations import BUDGET_LOCK_NAMESPACE

    today = user_today(owner, at=NOW)
    month_start = today.replace(day=1)
    needed = Decimal("0.01")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s), set_config('synchronous_commit', 'off', "
                "true)",
                [BUDGET_LOCK_NAMESPACE, owner.pk],
            )
        zero = Value(Decimal(0))
        spend = DailyCost.objects.filter(owner=owner, day__gte=month_start).aggregate(
            month=Coalesce(Sum("total_cost"), zero),
            today=Coalesce(Sum("total_cost", filter=Q(day=today)), zero),
            pipe=Coalesce(
                Sum("total_cost", filter=Q(day=today, pipeline_id=execution.pipeline_id)), zero
            ),
        )
        held = _held_by_others(owner, execution, today, month_start)
        limits = (owner.budget_limit_daily, owner.budget_limit_monthly)
        fits = (limits[0] is None or spend["today"] + held["today"] + needed <= limits[0]) and (
            limits[1] is None or spend["month"] + held["month"] + needed <= limits[1]
        )
        if fits:
            BudgetReservation.objects.update_or_create(
                execution_id=execution.pk,
                defaults={"amount": needed, "status": ReservationStatus.HELD, "day": today},
                create_defaults={
                    "owner": owner,
                    "pipeline_id": execution.pipeline_id,
                    "amount": needed,
                    "status": ReservationStatus.HELD,
                    "day": today,
                },
            )
    return fits


# --- the charge of a step on its own ----------------------------------------------------------


def _step_charge(owner, pipeline, execution):
    """A step's charge: its runtime and one model call (two ledger rows)."""
    from agents.metering import LLMCall
    from billing.services import step_charge

    return step_charge(
        owner_id=owner.pk,
        pipeline_id=pipeline.pk,
        execution_id=execution.pk,
        agent_id="report",
        agent_type="reporting_agent",
        pricing_rate=Decimal("0.05"),
        runtime_seconds=1.25,
        llm_calls=[LLMCall("report", "gpt-4o-mini", 900, 150, Decimal("0.000225"))],
    )


def _raw_charge(owner, pipeline, execution):
    from django.db import transaction

    from billing.services import charge_record

    with transaction.atomic():
        charge_record(
            _step_charge(owner, pipeline, execution), owner=owner, pipeline_id=pipeline.pk, at=NOW
        )


def _orm_charge(owner, pipeline, execution):
    """The same ledger rows and day's roll-up through the ORM: the rows, then the roll-up
    incremented with F(), created in a savepoint when it is the day's first charge (a
    concurrent first charge's IntegrityError: increment instead)."""
    from django.db import IntegrityError, transaction
    from django.db.models import F

    from accounts.selectors import user_today
    from billing.models import CostEntry, DailyCost

    charge = _step_charge(owner, pipeline, execution)
    day = user_today(owner, at=NOW)
    for entry in charge.entries:
        entry.created_at = NOW
    with transaction.atomic():
        CostEntry.objects.bulk_create(charge.entries)
        today = DailyCost.objects.filter(owner=owner, pipeline_id=pipeline.pk, day=day)
        if not today.update(total_cost=F("total_cost") + charge.total):
            try:
                with transaction.atomic():
                    DailyCost.objects.create(
                        owner=owner, pipeline_id=pipeline.pk, day=day, total_cost=charge.total
                    )
            except IntegrityError:
                today.update(total_cost=F("total_cost") + charge.total)


def _orm_spend(owner, pipeline_id):
    """billing.selectors.spend_summary through the ORM: one aggregate with three sums."""
    from django.db.models import Q, Sum, Value
    from django.db.models.functions import Coalesce

    from accounts.selectors import user_today
    from billing.models import DailyCost

    today = user_today(owner, at=NOW)
    zero = Value(Decimal(0))
    return DailyCost.objects.filter(owner=owner, day__gte=today.replace(day=1)).aggregate(
        month=Coalesce(Sum("total_cost"), zero),
        today=Coalesce(Sum("total_cost", filter=Q(day=today)), zero),
        pipeline_today=Coalesce(
            Sum("total_cost", filter=Q(day=today, pipeline_id=pipeline_id)), zero
        ),
    )


def main(count: int) -> None:
    from pipelines import services
    from pipelines.models import ExecutionStatus, PipelineExecution, StepRun, StepStatus

    load = os.getloadavg()[0]
    user = bench_user("bench-persistence@tradecrew.local")
    pipeline = _pipeline(user)
    execution = services.execution_start(pipeline=pipeline, enqueue=False, now=NOW)
    print_timings(
        f"claim (load average {load:.1f}), {count} of each",
        alternate(
            count,
            {
                "one prepared statement": lambda: _raw_claim(execution.pk),
                "ORM, UPDATE + SELECT + tx": lambda: _orm_claim(execution.pk),
            },
        ),
    )
    execution = PipelineExecution.objects.select_related("owner").get(pk=execution.pk)
    step = StepRun.objects.create(
        execution=execution,
        node_id="report",
        agent_type="reporting_agent",
        position=1,
        status=StepStatus.RUNNING,
        started_at=NOW,
    )
    _run_again(execution)
    print_timings(
        f"completion (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(
            count,
            {
                "one prepared statement": lambda: _raw_complete(execution, step.pk),
                "ORM, 5 statements + tx": lambda: _orm_complete(execution, step.pk),
            },
            after=lambda _result: _run_again(execution),
        ),
    )
    PipelineExecution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.COMPLETED)

    def finish(execution_id):
        PipelineExecution.objects.filter(pk=execution_id).update(status=ExecutionStatus.COMPLETED)

    print_timings(
        f"manual start's INSERT (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(
            count,
            {
                "prepared INSERT … ON CONFLICT": lambda: _raw_insert(pipeline),
                "ORM create in a savepoint": lambda: _orm_insert(pipeline),
            },
            after=finish,
        ),
    )
    execution = services.execution_start(pipeline=pipeline, enqueue=False, now=NOW)
    print_timings(
        f"budget reservation (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(
            count,
            {
                "lock + one prepared statement": lambda: _raw_reserve(user, execution),
                "lock + ORM, 3 statements + tx": lambda: _orm_reserve(user, execution),
            },
        ),
    )
    print_timings(
        f"a step's charge on its own (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(
            count,
            {
                "one statement + tx": lambda: _raw_charge(user, pipeline, execution),
                "ORM, 2 statements + tx": lambda: _orm_charge(user, pipeline, execution),
            },
        ),
    )
    from billing.selectors import spend_summary

    assert spend_summary(owner=user, pipeline_id=pipeline.pk, at=NOW) == _orm_spend(
        user, pipeline.pk
    )
    print_timings(
        f"the budget gate's spend read (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(
            count,
            {
                "one prepared statement": lambda: spend_summary(
                    owner=user, pipeline_id=pipeline.pk, at=NOW
                ),
                "ORM aggregate": lambda: _orm_spend(user, pipeline.pk),
            },
        ),
    )
    pipeline.delete()


if __name__ == "__main__":
    setup_django()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
