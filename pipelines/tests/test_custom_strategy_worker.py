"""A real prefork Celery worker runs custom strategies that loop forever and eat memory: each
fails its step with a clear error, and the same worker goes on to run the next execution."""

from __future__ import annotations

import time

import pytest

from agents.custom.services import code_hash
from agents.custom.static_review import static_review
from agents.models import CustomStrategy, CustomStrategyRun, CustomStrategyStatus
from pipelines import services
from pipelines.models import ExecutionStatus, PipelineExecution, StepRun
from tests.worker import worker_process_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

FINISHED = {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
BODY = "def strategy(bars, indicators, position, params):\n"
LOOP = BODY + "    while True:\n        pass\n"
HOG = BODY + "    hoard = []\n    while True:\n        hoard.append([0] * 100000)\n"
CALM = BODY + "    return {'signal': 'HOLD', 'reason': 'calm'}\n"


def _active(owner, name, code):
    review = static_review(code)
    assert review.passed, review.issues
    # Approved as a reviewer who missed the problem would (the dry run would have caught these):
    # what is tested here is the containment at run time.
    return CustomStrategy.objects.create(
        owner=owner,
        name=name,
        description=name,
        code=code,
        code_hash=code_hash(code),
        status=CustomStrategyStatus.ACTIVE,
        timeframes=["5m"],
    )


def _pipeline(owner, strategy):
    graph = {
        "nodes": [
            {
                "id": "trigger",
                "agent_type": "price_trigger",
                "config": {"condition": "above", "level": 0.01},
            },
            {"id": "data", "agent_type": "market_data_agent", "config": {"timeframes": ["5m"]}},
            {
                "id": "custom",
                "agent_type": "custom_strategy",
                "config": {"strategy": str(strategy.lineage)},
            },
        ],
        "edges": [{"from": "trigger", "to": "data"}, {"from": "data", "to": "custom"}],
    }
    pipeline, _ = services.pipeline_create(
        owner=owner, name=strategy.name, graph=graph, symbols=["AAPL"]
    )
    return pipeline


def _run(pipeline, timeout=90.0) -> PipelineExecution:
    from django.db import transaction

    with transaction.atomic():
        execution = services.execution_start(pipeline=pipeline)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution.refresh_from_db()
        if execution.status in FINISHED:
            return execution
        time.sleep(0.2)
    raise AssertionError(f"execution still {execution.status} after {timeout}s")


def test_the_worker_survives_runaway_strategies_and_runs_the_next(owner):
    loop = _pipeline(owner, _active(owner, "Loop", LOOP))
    hog = _pipeline(owner, _active(owner, "Hog", HOG))
    calm = _pipeline(owner, _active(owner, "Calm", CALM))
    worker = worker_process_start(CUSTOM_STRATEGY_WALL_SECONDS="1", CUSTOM_STRATEGY_CPU_SECONDS="1")
    try:
        looped = _run(loop)
        hogged = _run(hog)
        calmed = _run(calm)
        assert worker.poll() is None, "the worker died"
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert looped.status == ExecutionStatus.FAILED
    step = StepRun.objects.get(execution=looped, node_id="custom")
    assert "longer than 1 s" in step.error or "more than 1 s of CPU" in step.error
    assert hogged.status == ExecutionStatus.FAILED
    assert "MemoryError" in StepRun.objects.get(execution=hogged, node_id="custom").error
    assert calmed.status == ExecutionStatus.COMPLETED, calmed.error
    runs = {run.strategy.name: run for run in CustomStrategyRun.objects.select_related("strategy")}
    assert runs["Loop"].is_anomaly and runs["Hog"].is_anomaly
    assert runs["Calm"].success and runs["Calm"].result == "HOLD"
