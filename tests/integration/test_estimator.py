"""The cost estimator (spec §9): its worked figures, schedules counted from the exchange calendar,
budget warnings, the owner's history, the API, and the accuracy of past estimates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.estimator import daily_executions, estimate_pipeline_cost
from billing.models import BudgetReservation
from pipelines import engine, services
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import PipelineExecution, RunMode
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


def last_session_at_ten() -> datetime:
    """10:00 New York on the last trading day before today: the time trigger passes, and the
    runs fall inside the last 30 days whenever the test runs (steps are stamped by the clock)."""
    from trading import calendar

    today = timezone.now().date()
    session = calendar.sessions_between(today - timedelta(days=10), today - timedelta(days=1))[-1]
    return datetime.combine(session, datetime.min.time(), UTC) + timedelta(hours=15)


def run_once(pipeline, index: int) -> PipelineExecution:
    clock = ManualClock(last_session_at_ten())
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    assert engine.execution_run(execution_id=execution.pk, task_id=f"t{index}", clock=clock)
    PipelineExecution.objects.filter(pk=execution.pk).update(status="completed")
    return PipelineExecution.objects.get(pk=execution.pk)


def sape(estimated: Decimal, actual: Decimal) -> Decimal:
    total = estimated + actual
    return abs(estimated - actual) / total * 200 if total else Decimal(0)


@pytest.mark.django_db(transaction=True)
def test_it_learns_from_history_and_reports_its_accuracy(api, owner):
    from billing.estimates import agent_history, owner_agent_history

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    symbols = len(pipeline.symbols)
    built_in = estimate_pipeline_cost(graph=pipeline.graph, symbol_count=symbols)
    executions, expected_estimates = [], []
    for index in range(6):
        # What the budget gate should store: the owner's medians once there are any (kept a
        # few minutes once there are: runs 5 and 6 reuse those of run 4).
        history = owner_agent_history(owner=owner)
        assert bool(history) == (index >= 3)
        expected = estimate_pipeline_cost(
            graph=pipeline.graph, symbol_count=symbols, history=history
        )
        expected_estimates.append(expected.cost_per_execution)
        executions.append(run_once(pipeline, index))

    # Estimate and actual are stored per execution; the stored estimate is the owner's own
    # history once there is some (three runs), not the built-in seconds per rules step.
    reservations = {r.execution_id: r for r in BudgetReservation.objects.filter(owner=owner)}
    stored = [reservations[e.pk].estimated_cost for e in executions]
    assert stored == expected_estimates
    assert stored[:3] == [built_in.cost_per_execution] * 3
    assert all(reservations[e.pk].estimated_by_agent for e in executions)
    # Rules steps take milliseconds: the built-in figures are thousands of times what a run
    # costs; the estimates from history are of the same order as what the runs then cost.
    learned = sum(stored[3:], Decimal(0))
    spent = sum((e.total_cost for e in executions[3:]), Decimal(0))
    assert spent > 0
    assert built_in.cost_per_execution * 3 > 100 * spent
    assert spent / 20 < learned < spent * 20

    assert agent_history(owner=owner)["bias_agent:rules"]["steps"] == 6
    estimate = api.get(f"/api/v1/pipelines/{pipeline.pk}/cost-estimate").json()
    assert estimate["from_history"] and estimate["confidence"] == "high"

    # The headline figure is the symmetric MAPE over every run: bounded, and sane although
    # each run cost a fraction of a millionth of a dollar (plain MAPE divided by that gave
    # "off by 304,253%"). Plain MAPE only counts runs that cost at least its floor: none here.
    accuracy = api.get("/api/v1/cost/historical-accuracy").json()
    assert accuracy["sample_size"] == 6
    errors = [
        sape(estimate, run.total_cost) for estimate, run in zip(stored, executions, strict=True)
    ]
    assert Decimal(accuracy["smape_pct"]) == (sum(errors) / 6).quantize(Decimal("0.1"))
    assert Decimal(accuracy["smape_pct"]) < 200
    assert accuracy["mape_pct"] is None and accuracy["mape_runs"] == 0
    assert Decimal(accuracy["mape_min_actual"]) > max(e.total_cost for e in executions)
    assert Decimal(accuracy["total_actual"]) == sum((e.total_cost for e in executions), Decimal(0))
    bias = next(a for a in accuracy["agents"] if a["agent_type"] == "bias_agent")
    assert bias["runs"] == 6 and Decimal(bias["actual"]) > 0
    # Free agents, estimated and charged nothing, are left out of the per-agent table.
    assert "market_data_agent" not in {a["agent_type"] for a in accuracy["agents"]}
    assert api.get("/api/v1/cost/historical-accuracy?days=0").status_code == 422


@pytest.mark.django_db
def test_it_counts_plain_mape_only_for_runs_that_cost_at_least_its_floor(
    api, outsider_api, owner, owner_client
):
    from billing.estimates import MAPE_MIN_ACTUAL

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    runs = [(Decimal("0.015"), Decimal("0.010")), (Decimal("0.00001"), Decimal("0.00000002"))]
    for estimated, actual in runs:
        execution = PipelineExecution.objects.create(
            pipeline=pipeline,
            owner=owner,
            status="completed",
            total_cost=actual,
            finished_at=timezone.now(),
        )
        BudgetReservation.objects.create(
            owner=owner,
            pipeline_id=pipeline.pk,
            execution_id=execution.pk,
            day=timezone.now().date(),
            amount=estimated,
            status="settled",
            estimated_cost=estimated,
            estimated_by_agent={"bias_agent": str(estimated)},
        )
    accuracy = api.get("/api/v1/cost/historical-accuracy").json()
    assert runs[1][1] < MAPE_MIN_ACTUAL <= runs[0][1]
    # Only the first run counts in MAPE: |0.015 − 0.010| / 0.010 = 50%.
    assert Decimal(accuracy["mape_pct"]) == Decimal("50.0") and accuracy["mape_runs"] == 1
    # Both count in sMAPE: 0.005 / 0.0125 = 40%, and ~199.2% for the run that cost ~nothing.
    assert Decimal(accuracy["smape_pct"]) == Decimal("119.6")
    # The other user sees none of it.
    assert outsider_api.get("/api/v1/cost/historical-accuracy").json()["sample_size"] == 0
    # Billing and Costs show the same figures.
    for page in (reverse("billing:overview"), reverse("analytics:costs")):
        html = owner_client.get(page).content.decode()
        assert re.search(r'data-testid="accuracy-figure">119\.6%<', html), page
        assert "the plain mean error was 50.0%" in html


@pytest.mark.django_db
def test_it_shows_the_estimate_before_a_run_and_asks_to_confirm_one_over_budget(
    owner, owner_client
):
    from accounts.selectors import user_today
    from billing.models import DailyCost

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    detail = reverse("pipelines:detail", args=[pipeline.pk])
    page = owner_client.get(detail).content.decode()
    assert re.search(
        r'data-testid="detail-estimate"><dt>Estimated cost</dt><dd>[^<]+ per run', page
    )
    assert "Over budget" not in page

    # What is left of today's budget ($0.00001) is less than one run (~$0.0003).
    owner.budget_limit_daily = Decimal("0.01")
    owner.save()
    DailyCost.objects.create(
        owner=owner,
        pipeline_id=None,
        day=user_today(owner),
        total_cost=Decimal("0.00999"),
    )
    page = owner_client.get(detail).content.decode()
    assert f"Over budget: run “{pipeline.name}” anyway?" in page
    assert "it would be refused" in page and 'data-confirm-button="Run anyway"' in page

    # An on-signal pipeline asks before it is activated.
    pipeline.run_mode = RunMode.RUN_ON_SIGNAL
    pipeline.save()
    page = owner_client.get(detail).content.decode()
    assert f"Activate “{pipeline.name}” over budget?" in page
