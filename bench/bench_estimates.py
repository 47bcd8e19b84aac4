"""The estimator's step history (billing.estimates.agent_history: the ORM medians of
pipelines.run_costs.step_medians) against the same medians from a hand-written query, and the
estimate accuracy (`_accuracy_rows`: two hand-written queries on the runs' and steps' SQL
pipelines provides) against the same answer through the ORM (subqueries, a grouped Sum), back to
back on one owner's history. The figures say what a hand-written query would save, beside each
in its comment.

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


# The medians as one hand-written query (what billing ran before it asked pipelines).
_RAW_HISTORY_SQL = """
SELECT s.agent_type, s.engine, COUNT(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.duration_ms / per.symbols),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.tokens_in / per.symbols),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.tokens_out / per.symbols)
  FROM {step} s
  JOIN {execution} e ON e.id = s.execution_id
  JOIN {pipeline} p ON p.id = e.pipeline_id
 CROSS JOIN LATERAL (
     SELECT CASE WHEN s.agent_type <> ALL(%(per_symbol)s) THEN 1.0
                 WHEN jsonb_typeof(e.trigger_detail -> 'symbols') = 'array'
                      AND jsonb_array_length(e.trigger_detail -> 'symbols') > 0
                 THEN jsonb_array_length(e.trigger_detail -> 'symbols')::float8
                 WHEN jsonb_typeof(p.symbols) = 'array'
                 THEN GREATEST(jsonb_array_length(p.symbols), 1)::float8
                 ELSE 1.0 END AS symbols
 ) per
 WHERE e.owner_id = %(owner_id)s AND s.status = 'completed' AND s.duration_ms IS NOT NULL
   AND s.finished_at >= %(since)s
 GROUP BY s.agent_type, s.engine
"""


def _raw_history(user, since):
    """The medians per agent type and engine, hand-written: {agent:engine: duration ms}."""
    from django.db import connection

    from billing.estimator import PER_SYMBOL_AGENTS
    from pipelines.models import Pipeline, PipelineExecution, StepRun

    sql = _RAW_HISTORY_SQL.format(
        step=StepRun._meta.db_table,
        execution=PipelineExecution._meta.db_table,
        pipeline=Pipeline._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"per_symbol": sorted(PER_SYMBOL_AGENTS), "owner_id": user.pk, "since": since}
        )
        return {f"{row[0]}:{row[1]}": row[3] for row in cursor.fetchall()}


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
    orm_rows = agent_history(owner=user)
    raw_rows = _raw_history(user, since)
    assert orm_rows, "no history to measure"
    for key, figures in orm_rows.items():  # the two ask the same question
        assert abs(raw_rows[key] / 1000 - figures["seconds"]) < 1e-9, key
    timings = _time(
        {
            "ORM, percentile_cont aggregate": lambda: agent_history(owner=user),
            "hand-written query": lambda: _raw_history(user, since),
        },
        reads,
    )
    steps = executions * len(AGENTS)
    print(
        f"estimator step history over {steps:,} steps, {reads} reads of each "
        f"(load average {os.getloadavg()[0]:.1f})"
    )
    for name, values in timings.items():
        print(f"  {name:<32} {summary(values)}")
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
