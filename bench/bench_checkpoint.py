"""Step-boundary benchmark: the engine's one-statement checkpoint against the same writes
through the ORM, back to back on one execution.

A step boundary saves the execution's state under its lease, marks the previous StepRun
completed and starts the next one (the cost ledger rides along when there is a charge). The
engine writes it as one prepared statement (`pipelines.execution_state.STEP_BOUNDARY_SQL`); the ORM
needs an UPDATE of the execution, an UPDATE of the finished step and an upsert of the next one
in a transaction (with the same relaxed durability, SET LOCAL synchronous_commit). The figures
decide whether the hand-written statement stays: the comment beside it quotes them.

Run with `make bench` (or `uv run python bench/bench_checkpoint.py [boundaries]`).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from common import bench_user, fresh_tables, setup_django, summary

ROUNDS = 5


def _execution(user):
    from pipelines import services
    from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution

    Pipeline.objects.filter(owner=user).delete()
    fresh_tables(user)
    graph = {
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
    pipeline, _ = services.pipeline_create(
        owner=user, name="bench checkpoint", graph=graph, symbols=["TSLA"]
    )
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    PipelineExecution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.RUNNING, lease_owner="bench"
    )
    return pipeline, execution


def _raw_boundary(execution, owner, state_json: str, previous, node_id: str, now):
    from billing.services import ledger_params
    from config.core.db import fetch_one_prepared
    from pipelines import execution_state

    params = {
        "state": state_json,
        "market_data": None,
        "total_cost": Decimal("0.01"),
        "now": now,
        "execution_id": execution.pk,
        "task_id": "bench",
        "finished_id": previous,
        "duration_ms": 1.5,
        "tokens_in": 0,
        "tokens_out": 0,
        "agent_cost": Decimal("0.0001"),
        "token_cost": Decimal(0),
        "summary": "done",
        "finished_engine": None,
        **ledger_params(None, owner=owner, pipeline_id=execution.pipeline_id, at=now),
        "node_id": node_id,
        "lease_expires_at": now + timedelta(minutes=5),
        "agent_type": "reporting_agent",
        "position": 1,
        "engine": "rules",
    }
    row = fetch_one_prepared(execution_state.STEP_BOUNDARY_SQL, params)
    return row[0]


def _orm_boundary(execution, owner, state: dict, previous, node_id: str, now):
    from django.db import connection, transaction
    from django.db.models import F

    from pipelines.models import ExecutionStatus, PipelineExecution, StepRun, StepStatus

    with transaction.atomic():
        with connection.cursor() as cursor:  # the checkpoint's durability, as the SQL's
            cursor.execute("SET LOCAL synchronous_commit = off")
        held = PipelineExecution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, lease_owner="bench"
        ).update(
            state=state,
            total_cost=Decimal("0.01"),
            current_node=node_id,
            lease_expires_at=now + timedelta(minutes=5),
            updated_at=now,
        )
        assert held
        if previous is not None:
            StepRun.objects.filter(pk=previous).update(
                status=StepStatus.COMPLETED,
                finished_at=now,
                duration_ms=1.5,
                agent_cost=Decimal("0.0001"),
                output_summary="done",
            )
        step, created = StepRun.objects.get_or_create(
            execution_id=execution.pk,
            node_id=node_id,
            defaults={
                "agent_type": "reporting_agent",
                "position": 1,
                "status": StepStatus.RUNNING,
                "engine": "rules",
                "started_at": now,
            },
        )
        if not created:
            StepRun.objects.filter(pk=step.pk).update(
                status=StepStatus.RUNNING, started_at=now, attempts=F("attempts") + 1, error=""
            )
    return step.pk


def main(count: int) -> None:
    import json

    from pipelines.execution_setup import initial_state

    user = bench_user("bench-checkpoint@tradecrew.local")
    pipeline, execution = _execution(user)
    state = initial_state(execution).model_dump(mode="json", exclude={"market_data"})
    state_json = json.dumps(state)
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    timings = {"raw": [], "orm": []}
    for round_number in range(ROUNDS + 1):  # round 0 warms up both
        for way in ("raw", "orm"):
            previous = None
            for index in range(count // ROUNDS):
                node_id = f"{way}-{round_number}-{index}"
                started = time.perf_counter()
                if way == "raw":
                    previous = _raw_boundary(execution, user, state_json, previous, node_id, now)
                else:
                    previous = _orm_boundary(execution, user, state, previous, node_id, now)
                if round_number:
                    timings[way].append((time.perf_counter() - started) * 1000)
    print(f"step boundary, {count} of each, alternating in {ROUNDS} rounds on one execution")
    print(f"  one prepared statement: {summary(timings['raw'])}")
    print(f"  ORM, 4 statements + tx: {summary(timings['orm'])}")
    pipeline.delete()


if __name__ == "__main__":
    setup_django()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
