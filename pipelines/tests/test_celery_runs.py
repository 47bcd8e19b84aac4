"""Runs through real Celery workers on the embedded Redis and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from ninja_jwt.tokens import RefreshToken

from agents.state import PipelineState
from config.celery import app as celery_app
from conftest import APIClient
from pipelines.models import ExecutionStatus, PipelineExecution, Report, StepStatus
from pipelines.tests.conftest import SESSION_TIME
from tests.worker import worker_process_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

FINISHED = {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}


def _wait_finished(execution_id, timeout=90.0) -> PipelineExecution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = PipelineExecution.objects.get(pk=execution_id)
        if execution.status in FINISHED:
            return execution
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} still {execution.status} after {timeout}s")


@pytest.fixture
def worker():
    celery_app.control.purge()
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=["executions", "default"],
        loglevel="WARNING",
    ):
        yield


@pytest.mark.parametrize("template_key", ["day_trading_5m", "golden_cross_1d", "scanner_top5"])
def test_a_pipeline_from_each_template_runs_to_completed(owner, worker, template_key):
    with time_machine.travel(SESSION_TIME, tick=True):
        # Tokens are issued inside the travelled time, or they would not be valid yet.
        api = APIClient(token=str(RefreshToken.for_user(owner).access_token))
        created = api.post("/api/v1/pipelines/from-template", {"template_key": template_key})
        assert created.status_code == 201, created.content
        pipeline = created.json()
        started = api.post(f"/api/v1/pipelines/{pipeline['id']}/executions")
        assert started.status_code == 202
        execution = _wait_finished(started.json()["id"])
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    node_ids = {node["id"] for node in pipeline["graph"]["nodes"]}
    steps = list(execution.steps.all())
    assert {s.node_id for s in steps} == node_ids | {"pipeline-manager"}
    assert all(s.status == StepStatus.COMPLETED for s in steps)
    assert Report.objects.filter(execution=execution).count() == 1
    state = PipelineState.model_validate(execution.full_state)
    assert state.market_data
    assert state.bias_results
    assert state.strategy_signals
    assert state.risk_approvals
    assert state.intended_orders


def test_a_worker_killed_mid_run_finishes_after_redelivery_without_repeating_steps(
    api, owner, tmp_path
):
    from pipelines.tests import crash_plugin  # noqa: F401 - registers crash_once_agent here too

    graph = {
        "nodes": [
            {
                "id": "trigger",
                "agent_type": "price_trigger",
                "config": {"condition": "above", "level": 0.01},
            },
            {
                "id": "data",
                "agent_type": "market_data_agent",
                "config": {"timeframes": ["5m", "1h", "4h", "1d"]},
            },
            {
                "id": "crash",
                "agent_type": "crash_once_agent",
                "config": {"marker": str(tmp_path / "m")},
            },
            {
                "id": "bias",
                "agent_type": "bias_agent",
                "config": {"confidence_threshold": 0, "min_bias_score": 0},
            },
            {"id": "report", "agent_type": "reporting_agent", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "data"},
            {"from": "data", "to": "crash"},
            {"from": "crash", "to": "bias"},
            {"from": "bias", "to": "report"},
        ],
    }
    created = api.post(
        "/api/v1/pipelines", {"name": "crash test", "graph": graph, "symbols": ["AAPL"]}
    )
    assert created.status_code == 201, created.content
    worker = worker_process_start(AGENT_PLUGINS="pipelines.tests.crash_plugin")
    try:
        started = api.post(f"/api/v1/pipelines/{created.json()['id']}/executions")
        execution = _wait_finished(started.json()["id"], timeout=120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert (tmp_path / "m").exists(), "the crash agent never ran"
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    attempts = dict(execution.steps.values_list("node_id", "attempts"))
    # The steps before the crash ran once; the step the worker died in ran again.
    assert attempts == {
        "pipeline-manager": 1,
        "trigger": 1,
        "data": 1,
        "crash": 2,
        "bias": 1,
        "report": 1,
    }
    assert execution.attempts == 2
