"""Run now: skipping the trigger (page and API), the waiting state with its Cancel, and
activating a run-once pipeline (issue 13, items 2 and 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from pipelines import engine, lifecycle
from pipelines.models import ExecutionStatus, PipelineExecution, PipelineStatus, StepStatus
from trading.clock import ManualClock

pytestmark = pytest.mark.django_db

# A Saturday: the day-trading template's time trigger would wait until Monday's open.
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def _run(execution) -> str:
    return engine.execution_run(
        execution_id=execution.pk, task_id=f"t-{execution.pk}", clock=ManualClock(SATURDAY)
    )


def test_it_runs_every_agent_now_when_the_api_asks_to_skip_the_trigger(api, day_trading):
    response = api.post(f"/api/v1/pipelines/{day_trading.pk}/executions", {"skip_trigger": True})

    assert response.status_code == 202, response.content
    execution = PipelineExecution.objects.get(pk=response.json()["id"])
    assert execution.trigger_detail == {"skip_trigger": True}
    assert _run(execution) == ExecutionStatus.COMPLETED
    trigger = execution.steps.get(node_id="node-1")
    assert trigger.status == StepStatus.COMPLETED
    assert trigger.output_summary.startswith("Skipped: started with “Run now (skip the trigger)”")
    assert execution.steps.filter(node_id="node-7", status=StepStatus.COMPLETED).exists()


def test_it_waits_for_the_trigger_when_not_asked_to_skip_it(api, day_trading):
    response = api.post(f"/api/v1/pipelines/{day_trading.pk}/executions", {})
    execution = PipelineExecution.objects.get(pk=response.json()["id"])

    assert _run(execution) == ExecutionStatus.WAITING_TRIGGER
    assert not execution.steps.filter(node_id="node-2").exists()


def test_it_offers_both_run_buttons_and_the_page_button_skips_the_trigger(
    owner_client, day_trading
):
    html = owner_client.get(reverse("pipelines:detail", args=[day_trading.pk])).content.decode()
    assert "Run when the trigger fires" in html
    assert "Run now (skip the trigger)" in html

    response = owner_client.post(
        reverse("pipelines:run", args=[day_trading.pk]), {"skip_trigger": "1"}
    )

    execution = PipelineExecution.objects.get(pipeline=day_trading)
    assert response.status_code == 302
    assert execution.trigger_detail == {"skip_trigger": True}
    assert _run(execution) == ExecutionStatus.COMPLETED


def test_it_says_what_a_waiting_run_waits_for_and_when_and_cancels_it_after_confirming(
    owner_client, day_trading
):
    owner_client.post(reverse("pipelines:run", args=[day_trading.pk]))
    execution = PipelineExecution.objects.get(pipeline=day_trading)
    assert _run(execution) == ExecutionStatus.WAITING_TRIGGER
    execution.refresh_from_db()

    html = owner_client.get(reverse("pipelines:execution", args=[execution.pk])).content.decode()

    assert 'data-testid="waiting-state"' in html
    assert "Waiting for its trigger</strong>: " in html
    assert "Waiting for its trigger</strong>: 5 min after the NYSE open" in html
    assert "Next check <time datetime=" in html
    assert 'data-testid="cancel-waiting"' in html

    detail = owner_client.get(reverse("pipelines:detail", args=[day_trading.pk])).content.decode()
    assert "Waiting for trigger: 5 min after the NYSE open" in detail

    stop_url = reverse("pipelines:execution-stop", args=[execution.pk])
    unconfirmed = owner_client.post(stop_url)
    assert unconfirmed.status_code == 200  # the confirmation page
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.WAITING_TRIGGER
    owner_client.post(stop_url, {"confirmed": "yes"})
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED


def test_it_runs_a_run_once_pipeline_when_it_is_activated_instead_of_saying_active(
    api, day_trading
):
    assert day_trading.run_mode == "run_once"

    response = api.post(f"/api/v1/pipelines/{day_trading.pk}/activate")

    assert response.status_code == 200
    execution = PipelineExecution.objects.get(pipeline=day_trading)
    assert execution.status == ExecutionStatus.PENDING
    day_trading.refresh_from_db()
    assert day_trading.status != PipelineStatus.ACTIVE
    assert response.json()["status"] != "active"


def test_it_offers_run_not_activate_for_a_run_once_pipeline(owner_client, day_trading):
    html = owner_client.get(reverse("pipelines:detail", args=[day_trading.pk])).content.decode()
    assert 'data-testid="activate"' not in html
    assert 'data-testid="run-now"' in html


def test_it_starts_nothing_when_an_on_signal_pipeline_is_activated(day_trading):
    day_trading.run_mode = "run_on_signal"
    day_trading.save()

    lifecycle.pipeline_activate(pipeline=day_trading)

    day_trading.refresh_from_db()
    assert day_trading.status == PipelineStatus.ACTIVE
    assert not PipelineExecution.objects.filter(pipeline=day_trading).exists()


def test_an_outsider_cannot_run_someone_elses_pipeline_without_its_trigger(
    outsider, client, day_trading
):
    client.force_login(outsider)
    response = client.post(reverse("pipelines:run", args=[day_trading.pk]), {"skip_trigger": "1"})
    assert response.status_code == 404
    assert not PipelineExecution.objects.exists()
