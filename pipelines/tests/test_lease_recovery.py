"""A worker killed mid-run (the whole process group, so nothing is requeued) is recovered by the
lease heartbeat and the reaper: the run resumes within ~90 s and finishes exactly once."""

from __future__ import annotations

import os
import signal
import time

import pytest

from config.core.beat import BEAT_SCHEDULE
from pipelines.models import ExecutionStatus, PipelineExecution
from pipelines.services import executions_reap_stale
from tests.worker import worker_process_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

RECOVERY_DEADLINE_SECONDS = 90
REAP_EVERY = next(
    every for task, every in BEAT_SCHEDULE.values() if task == "pipelines.executions_reap_stale"
)


def _graph(marker: str) -> dict:
    return {
        "nodes": [
            {
                "id": "trigger",
                "agent_type": "price_trigger",
                "config": {"condition": "above", "level": 0.01},
            },
            {"id": "data", "agent_type": "market_data_agent", "config": {"timeframes": ["5m"]}},
            {"id": "hang", "agent_type": "hang_once_agent", "config": {"marker": marker}},
            {"id": "report", "agent_type": "reporting_agent", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "data"},
            {"from": "data", "to": "hang"},
            {"from": "hang", "to": "report"},
        ],
    }


def _wait(predicate, *, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _kill(worker) -> None:
    os.killpg(worker.pid, signal.SIGKILL)  # the main process and its pool child: no requeue
    worker.wait(timeout=30)


@pytest.mark.timeout(600)  # two worker start-ups and up to 90 s of recovery
def test_a_killed_workers_run_resumes_within_90_seconds_and_finishes_once(api, tmp_path):
    from pipelines.tests import crash_plugin  # noqa: F401 - registers hang_once_agent here too

    marker = tmp_path / "hanging"
    created = api.post(
        "/api/v1/pipelines",
        {"name": "lease test", "graph": _graph(str(marker)), "symbols": ["AAPL"]},
    )
    assert created.status_code == 201, created.content
    first = worker_process_start(AGENT_PLUGINS="pipelines.tests.crash_plugin")
    second = None
    try:
        started = api.post(f"/api/v1/pipelines/{created.json()['id']}/executions")
        execution_id = started.json()["id"]
        _wait(marker.exists, timeout=120, what="the hanging step starting")
        _kill(first)

        second = worker_process_start(AGENT_PLUGINS="pipelines.tests.crash_plugin")
        # The clock starts once a live worker answers (worker_process_start waits for its
        # ping); from here beat's reaper does the rest.
        deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
        execution = PipelineExecution.objects.get(pk=execution_id)
        while execution.status != ExecutionStatus.COMPLETED:
            assert time.monotonic() < deadline, (
                f"still {execution.status} {RECOVERY_DEADLINE_SECONDS}s after the worker died"
            )
            executions_reap_stale()  # what beat runs every REAP_EVERY seconds
            next_sweep = time.monotonic() + REAP_EVERY
            while time.monotonic() < next_sweep and execution.status != ExecutionStatus.COMPLETED:
                time.sleep(0.5)
                execution = PipelineExecution.objects.get(pk=execution_id)
    finally:
        if first.poll() is None:
            _kill(first)
        if second is not None:
            second.terminate()
            second.wait(timeout=30)

    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    attempts = dict(execution.steps.values_list("node_id", "attempts"))
    # Each finished step ran once; only the step the worker died in ran again.
    assert attempts == {"pipeline-manager": 1, "trigger": 1, "data": 1, "hang": 2, "report": 1}
    assert execution.attempts == 2
    assert execution.steps.filter(status="completed").count() == 5


def test_the_heartbeat_keeps_a_long_step_leased_and_stops_when_the_lease_is_lost(owner):
    from datetime import timedelta

    from django.utils import timezone

    from pipelines.execution_state import LEASE, LeaseHeartbeat
    from pipelines.services import execution_start, pipeline_create
    from pipelines.tests.factories import day_trading_graph

    pipeline, _ = pipeline_create(owner=owner, name="long step", graph=day_trading_graph())
    execution = execution_start(pipeline=pipeline)
    almost_expired = timezone.now() + timedelta(seconds=1)
    PipelineExecution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.RUNNING, lease_owner="task-a", lease_expires_at=almost_expired
    )

    def lease_expires_at():
        return PipelineExecution.objects.get(pk=execution.pk).lease_expires_at

    heartbeat = LeaseHeartbeat(
        execution_id=execution.pk, task_id="task-a", every=timedelta(seconds=0.05)
    )
    with heartbeat:
        _wait(
            lambda: lease_expires_at() > timezone.now() + LEASE / 2,
            timeout=30,
            what="the lease renewed",
        )
        # Another task took the run over: the heartbeat must not extend its lease.
        PipelineExecution.objects.filter(pk=execution.pk).update(
            lease_owner="task-b", lease_expires_at=almost_expired
        )
        _wait(lambda: not heartbeat._thread.is_alive(), timeout=30, what="the heartbeat stopping")

    assert lease_expires_at() == almost_expired
