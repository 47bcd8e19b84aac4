"""The estimator's step history (billing.estimates.agent_history) and estimate accuracy
(`_accuracy_rows`): their hand-written queries against the same answers through the ORM (a
percentile_cont aggregate over StepRun; subqueries), back to back on one owner's history.
billing cannot use the ORM here itself (the steps and runs are the pipelines app's, above
billing); the figures say what the hand-written queries cost or save.

Run with `make bench` (or `uv run python bench/bench_estimates.py [executions] [reads]`).
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import timedelta

from common import bench_user, fresh_tables, setup_django, summary

AGENTS = [
    "pipeline_manager_agent",
    "price_trigger",
    "market_data_agent",
    "bias_agent",
    "strategy_agent",
    "risk_manager_agent",
    "reporting_agent",
]


def _seed(user, executions: int):
    """`executions` completed runs of one pipeline, a StepRun per agent each, in the last days."""
    from django.utils import timezone

    from pipelines import services
    from pipelines.models import (
        ExecutionStatus,
        Pipeline,
        PipelineExecution,
        StepRun,
        StepStatus,
    )

    Pipeline.objects.filter(owner=user).delete()
    fresh_tables(user)
    pipeline, _ = services.pipeline_create(
        owner=user,
        name="bench estimates",
        graph={
            "nodes": [
                {
                    "id": "trigger",
                    "agent_type": "price_trigger",
                    "config": {"condition": "above", "level": 0.01},
                },
                {"id": "report", "agent_type": "reporting_agent", "config": {}},
            ],
            "edges": [{"from": "trigger", "to": "report"}],
        },
        symbols=["TSLA", "AAPL", "MSFT"],
    )
    now = timezone.now()
    rows = PipelineExecution.objects.bulk_create(
        PipelineExecution(
            pipeline=pipeline,
            owner=user,
            status=ExecutionStatus.COMPLETED,
            trading_mode=pipeline.trading_mode,
            trigger_detail={"symbols": ["TSLA"]} if index % 3 == 0 else {},
            finished_at=now - timedelta(hours=index % 200),
        )
        for index in range(executions)
    )
    random.seed(7)
    StepRun.objects.bulk_create(
        StepRun(
            execution=execution,
            node_id=agent,
            agent_type=agent,
            position=position,
            status=StepStatus.COMPLETED,
            started_at=execution.finished_at,
            finished_at=execution.finished_at,
            duration_ms=random.uniform(0.1, 5.0),
            tokens_in=random.randint(0, 2000),
            tokens_out=random.randint(0, 500),
        )
        for execution in rows
        for position, agent in enumerate(AGENTS)
    )
    from decimal import Decimal

    from billing.models import BudgetReservation, ReservationStatus

    BudgetReservation.objects.bulk_create(
        BudgetReservation(
            owner=user,
            pipeline_id=pipeline.pk,
            execution_id=execution.pk,
            day=execution.finished_at.date(),
            amount=Decimal("0.01"),
            status=ReservationStatus.SETTLED,
            estimated_cost=Decimal("0.01"),
            estimated_by_agent=dict.fromkeys(AGENTS, "0.001"),
        )
        for execution in rows
    )
    return pipeline


def _orm_history(user, since):
    """The same medians per agent type and engine through the ORM."""
    from django.db.models import (
        Aggregate,
        Case,
        CharField,
        Count,
        F,
        FloatField,
        Func,
        IntegerField,
        Q,
        Value,
        When,
    )
    from django.db.models.functions import Cast, Greatest

    from billing.estimator import PER_SYMBOL_AGENTS
    from pipelines.models import StepRun, StepStatus

    class Median(Aggregate):
        function = "percentile_cont"
        template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
        output_field = FloatField()

    def length(path):
        return Func(path, function="jsonb_array_length", output_field=IntegerField())

    def kind(path):
        return Func(path, function="jsonb_typeof", output_field=CharField())

    signal_symbols = F("execution__trigger_detail__symbols")
    symbols = Case(
        When(~Q(agent_type__in=sorted(PER_SYMBOL_AGENTS)), then=Value(1.0)),
        When(
            Q(_signal_kind="array", _signal_length__gt=0),
            then=Cast("_signal_length", FloatField()),
        ),
        When(
            _pipeline_kind="array",
            then=Cast(Greatest("_pipeline_length", Value(1)), FloatField()),
        ),
        default=Value(1.0),
        output_field=FloatField(),
    )
    rows = (
        StepRun.objects.filter(
            execution__owner=user,
            status=StepStatus.COMPLETED,
            duration_ms__isnull=False,
            finished_at__gte=since,
        )
        .annotate(
            _signal_kind=kind(signal_symbols),
            _signal_length=length(signal_symbols),
            _pipeline_kind=kind(F("execution__pipeline__symbols")),
            _pipeline_length=length(F("execution__pipeline__symbols")),
        )
        .annotate(per=symbols)
        .values("agent_type", "engine")
        .annotate(
            steps=Count("pk"),
            duration=Median(F("duration_ms") / F("per")),
            tokens_in=Median(Cast("tokens_in", FloatField()) / F("per")),
            tokens_out=Median(Cast("tokens_out", FloatField()) / F("per")),
        )
    )
    return list(rows)


def _orm_accuracy(user, since):
    """billing.estimates._accuracy_rows through the ORM: the runs with their estimate and
    cost, then what each agent type cost in each."""
    from collections import defaultdict

    from django.db.models import F, OuterRef, Subquery, Sum

    from billing.models import BudgetReservation
    from pipelines.models import ExecutionStatus, PipelineExecution, StepRun

    completed = PipelineExecution.objects.filter(
        status=ExecutionStatus.COMPLETED, finished_at__gte=since
    )
    runs = list(
        BudgetReservation.objects.filter(
            owner=user,
            estimated_cost__isnull=False,
            execution_id__in=completed.values("pk"),
        )
        .annotate(
            actual=Subquery(
                PipelineExecution.objects.filter(pk=OuterRef("execution_id")).values("total_cost")
            )
        )
        .values_list("execution_id", "estimated_cost", "estimated_by_agent", "actual")
    )
    by_agent = defaultdict(dict)
    for execution_id, agent_type, cost in (
        StepRun.objects.filter(execution_id__in=[row[0] for row in runs])
        .values("execution_id", "agent_type")
        .annotate(cost=Sum(F("agent_cost") + F("token_cost")))
        .values_list("execution_id", "agent_type", "cost")
    ):
        by_agent[execution_id][agent_type] = cost
    return runs, by_agent


def _time(ways: dict, reads: int) -> dict[str, list[float]]:
    timings = {name: [] for name in ways}
    for _ in range(reads + 1):  # the first of each warms up
        for name, call in ways.items():
            started = time.perf_counter()
            call()
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: values[1:] for name, values in timings.items()}


def main(executions: int, reads: int) -> None:
    from django.utils import timezone

    from billing.estimates import HISTORY_DAYS, agent_history

    user = bench_user("bench-estimates@tradecrew.local")
    pipeline = _seed(user, executions)
    since = timezone.now() - timedelta(days=HISTORY_DAYS)
    raw_rows = agent_history(owner=user)
    orm_rows = {f"{r['agent_type']}:{r['engine']}": r for r in _orm_history(user, since)}
    for key, figures in raw_rows.items():  # the two ask the same question
        assert abs(orm_rows[key]["duration"] / 1000 - figures["seconds"]) < 1e-9, key
    timings = {"hand-written query": [], "ORM, percentile_cont aggregate": []}
    for _ in range(reads + 1):  # the first of each warms up
        started = time.perf_counter()
        agent_history(owner=user)
        timings["hand-written query"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        _orm_history(user, since)
        timings["ORM, percentile_cont aggregate"].append((time.perf_counter() - started) * 1000)
    steps = executions * len(AGENTS)
    print(
        f"estimator step history over {steps:,} steps, {reads} reads of each "
        f"(load average {os.getloadavg()[0]:.1f})"
    )
    for name, values in timings.items():
        print(f"  {name:<32} {summary(values[1:])}")
    from billing.estimates import _accuracy_rows

    raw_runs, raw_by_agent = _accuracy_rows(owner=user, since=since)
    orm_runs, orm_by_agent = _orm_accuracy(user, since)
    assert len(raw_runs) == len(orm_runs) and raw_by_agent == dict(orm_by_agent)
    accuracy = _time(
        {
            "hand-written queries": lambda: _accuracy_rows(owner=user, since=since),
            "ORM, 2 queries": lambda: _orm_accuracy(user, since),
        },
        reads,
    )
    print(
        f"estimate accuracy over {executions:,} runs, {reads} reads of each "
        f"(load average {os.getloadavg()[0]:.1f})"
    )
    for name, values in accuracy.items():
        print(f"  {name:<32} {summary(values)}")
    pipeline.delete()


if __name__ == "__main__":
    setup_django()
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [5000, 30][len(args) :]))
