"""The estimator's step history (billing.estimates.agent_history): its hand-written query
against the same medians through the ORM (a percentile_cont aggregate over StepRun), back to
back on one owner's history. billing cannot use the ORM here itself (the steps are the
pipelines app's, above billing); the figure says what the hand-written query costs or saves.

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
    pipeline.delete()


if __name__ == "__main__":
    setup_django()
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [5000, 30][len(args) :]))
