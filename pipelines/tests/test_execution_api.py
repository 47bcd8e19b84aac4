"""Executions API: start (once at a time), stop, list, detail; owner-scoped."""

import threading

import pytest
from django.db import connection

from config.core.errors import Conflict
from pipelines import engine, services
from pipelines.models import ExecutionStatus, PipelineExecution

pytestmark = pytest.mark.django_db


def test_start_creates_a_pending_run_and_enqueues_it_after_commit(
    api, day_trading, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(f"/api/v1/pipelines/{day_trading.pk}/executions")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["trading_mode"] == "SIMULATION"
    assert len(callbacks) == 1  # the Celery task goes out only once the row is committed
    execution = PipelineExecution.objects.get(pk=body["id"])
    assert execution.graph == day_trading.graph


def test_a_second_start_while_one_is_active_is_409(api, day_trading):
    assert api.post(f"/api/v1/pipelines/{day_trading.pk}/executions").status_code == 202
    response = api.post(f"/api/v1/pipelines/{day_trading.pk}/executions")
    assert response.status_code == 409
    assert "already" in response.json()["detail"]
    assert PipelineExecution.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_produce_exactly_one_execution(day_trading):
    barrier = threading.Barrier(2)
    outcomes = []

    def start():
        try:
            barrier.wait()
            services.execution_start(pipeline=day_trading)
            outcomes.append("started")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "started"]
    assert PipelineExecution.objects.filter(pipeline=day_trading).count() == 1


def test_detail_shows_steps_state_and_report(api, day_trading, clock):
    execution = services.execution_start(pipeline=day_trading)
    engine.execution_run(execution_id=execution.pk, task_id="t", clock=clock)
    body = api.get(f"/api/v1/executions/{execution.pk}").json()
    assert body["status"] == "completed"
    assert len(body["steps"]) == 8
    assert body["steps"][0]["agent_type"] == "pipeline_manager_agent"
    assert body["report_id"]
    assert "market_data" in body["state"]


def test_stop_cancels_and_a_new_run_can_start(api, day_trading):
    execution_id = api.post(f"/api/v1/pipelines/{day_trading.pk}/executions").json()["id"]
    response = api.post(f"/api/v1/executions/{execution_id}/stop")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert api.post(f"/api/v1/pipelines/{day_trading.pk}/executions").status_code == 202


def test_list_filters_by_pipeline_and_status(api, day_trading):
    api.post(f"/api/v1/pipelines/{day_trading.pk}/executions")
    everything = api.get("/api/v1/executions").json()
    assert everything["count"] == 1
    assert everything["items"][0]["pipeline_name"] == day_trading.name
    assert api.get("/api/v1/executions", {"status": "completed"}).json()["count"] == 0
    assert api.get("/api/v1/executions", {"status": "bogus"}).status_code == 422


def test_another_user_cannot_see_or_stop_my_runs(api, outsider_api, day_trading):
    execution_id = api.post(f"/api/v1/pipelines/{day_trading.pk}/executions").json()["id"]
    assert outsider_api.get(f"/api/v1/executions/{execution_id}").status_code == 404
    assert outsider_api.post(f"/api/v1/executions/{execution_id}/stop").status_code == 404
    assert outsider_api.get("/api/v1/executions").json()["count"] == 0
    assert PipelineExecution.objects.get(pk=execution_id).status == ExecutionStatus.PENDING
