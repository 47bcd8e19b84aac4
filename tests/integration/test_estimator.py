"""The cost estimator (spec §9): its worked figures, schedules counted from the exchange calendar,
budget warnings, the owner's history, the API, and the accuracy of past estimates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.estimator import daily_executions, estimate_pipeline_cost
from billing.models import BudgetReservation
from pipelines import engine, services
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import PipelineExecution
from trading.clock import ManualClock

# The spec's §9.2 crews: bias and strategy on gpt-4, the report on gpt-3.5-turbo.
SPEC_GRAPH = {
    "nodes": [
        {"id": "b", "agent_type": "bias_agent", "config": {"engine": "llm", "model": "gpt-4"}},
        {
            "id": "s",
            "agent_type": "strategy_agent",
            "config": {"engine": "llm", "model": "gpt-4"},
        },
        {
            "id": "r",
            "agent_type": "reporting_agent",
            "config": {"engine": "llm", "model": "gpt-3.5-turbo"},
        },
    ],
    "edges": [{"from": "b", "to": "s"}, {"from": "s", "to": "r"}],
}
CRON = {"schedule_type": "cron", "cron_expression": "*/15 9-15 * * *"}
MONDAY = date(2026, 11, 23)


def test_it_reproduces_the_specs_per_agent_figures():
    estimate = estimate_pipeline_cost(graph=SPEC_GRAPH)

    # Bias: $0.08/h for 6 minutes + 2,000 in / 500 out at $0.03 / $0.06 per 1K.
    assert estimate.agent_costs["bias_agent"]["cost"] == Decimal("0.008")
    assert estimate.token_costs["bias_agent"]["cost"] == Decimal("0.09")
    # Strategy: $0.10/h for 6 minutes + 1,500 in / 600 out.
    assert estimate.agent_costs["strategy_agent"]["cost"] == Decimal("0.01")
    assert estimate.token_costs["strategy_agent"]["cost"] == Decimal("0.081")
    # Reporting: free to rent, 3,000 in / 500 out on gpt-3.5-turbo.
    assert estimate.agent_costs["reporting_agent"]["cost"] == 0
    assert estimate.token_costs["reporting_agent"]["cost"] == Decimal("0.00225")
    assert estimate.cost_per_execution == Decimal("0.19125")
    assert estimate.estimated_duration_minutes == 14.0
    assert estimate.confidence == "high"  # run once


def test_it_counts_a_cron_of_every_15_minutes_from_9_to_15_as_28_runs_a_day():
    assert daily_executions("run_scheduled", CRON, MONDAY) == (28, 28)
    estimate = estimate_pipeline_cost(
        graph=SPEC_GRAPH, run_mode="run_scheduled", schedule=CRON, at=MONDAY
    )
    # $0.19 a run is ~$5.36 a day, not $0.19.
    assert estimate.daily_cost_range == (Decimal("5.35500"), Decimal("5.35500"))
    assert estimate.monthly_cost_range[1] == Decimal("112.45500")
    # Within a trading window only its firings count; weekends and holidays never do.
    window = {**CRON, "start_time": "09:30", "end_time": "16:00"}
    assert daily_executions("run_scheduled", window, MONDAY) == (26, 26)
    weekly = {"schedule_type": "cron", "cron_expression": "0 10 * * 6"}  # Saturdays
    assert daily_executions("run_scheduled", weekly, MONDAY) == (0, 0)


def test_it_counts_the_specs_other_run_modes():
    assert daily_executions("run_once", None) == (1, 1)
    interval = {"schedule_type": "interval", "interval_minutes": 60}
    assert daily_executions("run_scheduled", interval) == (5, 5)  # 09:35–15:30
    assert daily_executions("run_continuous", {}) == (5, 11)
    assert daily_executions("run_continuous", {"max_trades_per_day": 3}) == (3, 3)
    assert daily_executions("run_on_signal", {}) == (1, 3)


def test_it_warns_near_and_over_a_budget(owner):
    from billing.estimates import budget_comparison

    estimate = estimate_pipeline_cost(
        graph=SPEC_GRAPH, run_mode="run_scheduled", schedule=CRON, at=MONDAY
    )
    owner.budget_limit_daily, owner.budget_limit_monthly = Decimal("10"), None
    assert budget_comparison(estimate, owner=owner)["warnings"] == []
    owner.budget_limit_daily = Decimal("6")
    near = budget_comparison(estimate, owner=owner)
    assert near["warnings"] == ["Estimated cost will use ~89% of the daily budget."]
    owner.budget_limit_daily = Decimal("5")
    over = budget_comparison(estimate, owner=owner)
    assert not over["within_budget"]
    assert "Estimated daily cost ($5.36) may exceed the daily budget ($5.00)." in over["warnings"]
    assert over["daily"]["remaining"] == Decimal("5")


@pytest.mark.django_db
def test_it_estimates_an_unsaved_graph_through_the_api(api, owner):
    owner.budget_limit_daily = Decimal("5.00")
    owner.save()
    response = api.post(
        "/api/v1/pipelines/estimate-cost",
        {"graph": SPEC_GRAPH, "run_mode": "run_scheduled", "schedule": CRON},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert Decimal(body["cost_per_execution"]) == Decimal("0.19125")
    assert body["daily_executions_range"][1] in (0, 28)  # 0 only if no session in 30 days
    bias = next(a for a in body["agents"] if a["agent_type"] == "bias_agent")
    assert Decimal(bias["per_run"]) == Decimal("0.098")
    assert Decimal(bias["per_day"][1]) == Decimal("0.098") * 28
    assert any("may exceed the daily budget" in w for w in body["budget"]["warnings"])


@pytest.mark.django_db
def test_it_refuses_a_bad_estimate_request_naming_the_field(api, settings):
    settings.LLM_PRICING, settings.LLM_FREE_MODELS = {}, []
    graph = {"nodes": [{"id": "b", "agent_type": "bias_agent", "config": {"engine": "llm"}}]}
    graph["nodes"][0]["config"]["model"] = "gtp-4o"
    unpriced = api.post("/api/v1/pipelines/estimate-cost", {"graph": graph})
    assert unpriced.status_code == 422
    assert "No price configured for model 'gtp-4o'" in str(unpriced.json()["detail"])
    bad_cron = api.post(
        "/api/v1/pipelines/estimate-cost",
        {"graph": SPEC_GRAPH, "run_mode": "run_scheduled", "schedule": {"schedule_type": "cron"}},
    )
    assert bad_cron.status_code == 422
    assert "schedule" in str(bad_cron.json()["detail"])
    bad_mode = api.post("/api/v1/pipelines/estimate-cost", {"graph": SPEC_GRAPH, "run_mode": "x"})
    assert bad_mode.status_code == 422 and "run_mode" in str(bad_mode.json()["detail"])


@pytest.mark.django_db
def test_it_estimates_a_saved_pipeline_for_its_owner_only(api, outsider_api, owner):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    mine = api.get(f"/api/v1/pipelines/{pipeline.pk}/cost-estimate")
    assert mine.status_code == 200
    assert {a["agent_type"] for a in mine.json()["agents"]} >= {"bias_agent", "strategy_agent"}
    assert outsider_api.get(f"/api/v1/pipelines/{pipeline.pk}/cost-estimate").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_it_learns_from_history_and_reports_its_accuracy(api, owner):
    from billing.estimates import agent_history

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    clock = ManualClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    executions = []
    for index in range(3):
        execution = services.execution_start(pipeline=pipeline, enqueue=False)
        assert engine.execution_run(execution_id=execution.pk, task_id=f"t{index}", clock=clock)
        PipelineExecution.objects.filter(pk=execution.pk).update(status="completed")
        executions.append(execution.pk)

    # Estimate and actual are stored per execution.
    reservations = BudgetReservation.objects.filter(execution_id__in=executions)
    assert reservations.count() == 3
    assert all(r.estimated_cost > 0 and r.estimated_by_agent for r in reservations)

    # Three runs are enough history: the estimate now uses the owner's own medians.
    history = agent_history(owner=owner)
    assert "bias_agent:rules" in history
    estimate = api.get(f"/api/v1/pipelines/{pipeline.pk}/cost-estimate").json()
    assert estimate["from_history"] and estimate["confidence"] == "high"

    accuracy = api.get("/api/v1/cost/historical-accuracy").json()
    assert accuracy["sample_size"] == 3
    expected = []
    for reservation in reservations:
        actual = PipelineExecution.objects.get(pk=reservation.execution_id).total_cost
        expected.append(abs(reservation.estimated_cost - actual) / actual * 100)
    mean = (sum(expected) / 3).quantize(Decimal("0.1"))
    assert Decimal(accuracy["mape_pct"]) == mean
    bias = next(a for a in accuracy["agents"] if a["agent_type"] == "bias_agent")
    assert bias["runs"] == 3 and Decimal(bias["actual"]) > 0
    assert api.get("/api/v1/cost/historical-accuracy?days=0").status_code == 422
