"""The engine: durable step-by-step runs, state, costs, events, waiting triggers, failures."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agents.state import PipelineState
from billing.models import CostEntry, DailyCost
from config.core.events import execution_group, user_group
from pipelines import engine, execution_state, services
from pipelines.models import ExecutionStatus, PipelineExecution, Report, StepRun, StepStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _start(pipeline, **detail):
    execution = services.execution_start(pipeline=pipeline, detail=detail or None)
    return PipelineExecution.objects.get(pk=execution.pk)


def test_a_run_records_every_step_state_costs_and_a_report(day_trading, clock):
    execution = _start(day_trading)
    status = engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock)
    assert status == ExecutionStatus.COMPLETED
    execution.refresh_from_db()
    steps = list(execution.steps.order_by("position"))
    assert [s.node_id for s in steps] == ["pipeline-manager"] + [f"node-{i}" for i in range(1, 8)]
    assert all(s.status == StepStatus.COMPLETED for s in steps)
    assert all(s.finished_at and s.duration_ms is not None for s in steps)
    assert all(s.output_summary for s in steps)

    state = PipelineState.model_validate(execution.full_state)
    assert "AAPL" in state.market_data
    assert set(state.market_data["AAPL"].timeframes) >= {"5m", "1h", "4h", "1d"}
    assert "AAPL" in state.bias_results
    assert state.trigger is not None and state.trigger.met

    # Costs: the ledger, the steps and the execution agree, to the 8th decimal.
    ledger = sum(e.total_cost for e in CostEntry.objects.filter(execution_id=execution.pk))
    assert ledger == sum(s.agent_cost + s.token_cost for s in steps) == execution.total_cost
    assert ledger > 0
    paid = {e.agent_type for e in CostEntry.objects.filter(execution_id=execution.pk)}
    assert "bias_agent" in paid and "market_data_agent" not in paid  # free agents cost nothing
    daily = DailyCost.objects.get(owner=day_trading.owner, pipeline_id=day_trading.pk)
    assert daily.total_cost == ledger

    report = Report.objects.get(execution=execution)
    assert report.owner == day_trading.owner
    assert report.summary
    assert "_summary" in report.full_report


def test_step_checkpoints_are_prepared_and_commit_without_waiting_for_the_wal(day_trading, clock):
    from django.db import connection

    execution = _start(day_trading)
    assert engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
        # The asynchronous commit was the checkpoint's own: the connection commits as before.
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert any("INSERT INTO pipelines_steprun" in statement for statement in prepared)
    assert any("status = 'completed', finished_at" in statement for statement in prepared)


def test_the_reaper_sends_again_runs_no_worker_is_looking_after(day_trading, clock):
    from django.utils import timezone

    pending = _start(day_trading)
    now = timezone.now()
    assert services.executions_reap_stale(now=now) == 0  # its message is on its way
    # Its message was lost (or the claim that took it, in a database crash): sent again, once
    # per period.
    later = now + services.PENDING_RESEND_AFTER + timedelta(seconds=1)
    assert services.executions_reap_stale(now=later) == 1
    assert services.executions_reap_stale(now=later + timedelta(minutes=1)) == 0
    assert services.executions_reap_stale(now=later + services.PENDING_RESEND_AFTER * 2) == 1

    # Running under a lease whose worker is gone.
    claimed = execution_state.execution_claim(pending.pk, "t1", now)
    assert claimed.status == ExecutionStatus.RUNNING and claimed.attempts == 1
    lease_ends = now + execution_state.LEASE
    assert services.executions_reap_stale(now=lease_ends - timedelta(seconds=1)) == 0
    assert services.executions_reap_stale(now=lease_ends + timedelta(seconds=1)) == 1


def test_the_chain_reaches_an_intended_bracket_order(owner, clock):
    from pipelines.blueprints import pipeline_create_from_blueprint

    pipeline, _ = pipeline_create_from_blueprint(
        owner=owner, key="day_trading_5m", symbols=["AAPL", "MSFT", "NVDA", "AMD", "TSLA", "JPM"]
    )
    execution = _start(pipeline)
    engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock)
    execution.refresh_from_db()
    state = PipelineState.model_validate(execution.full_state)
    assert state.strategy_signals, state.warnings
    assert state.risk_approvals
    assert state.intended_orders, (state.warnings, state.errors)
    symbol, order = next(iter(state.intended_orders.items()))
    risk = state.risk_approvals[symbol]
    strategy = state.strategy_signals[symbol]
    assert order.quantity == risk.position_size > 0
    assert order.stop_loss == Decimal(str(strategy.stop_loss))
    assert order.client_order_id.startswith("tc-")
    assert order.trading_mode == "SIMULATION"


def test_events_go_to_the_user_and_execution_groups_in_order(owner, clock, listen):
    from pipelines.blueprints import pipeline_create_from_blueprint

    # Six symbols: at the session clock the synthetic market opens a position in at least one.
    day_trading, _ = pipeline_create_from_blueprint(
        owner=owner, key="day_trading_5m", symbols=["AAPL", "MSFT", "NVDA", "AMD", "TSLA", "JPM"]
    )
    execution = _start(day_trading)
    by_user = listen(user_group(day_trading.owner_id))
    by_execution = listen(execution_group(execution.pk))
    engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock)
    events = by_execution.drain()
    names = [e["event"] for e in events]
    assert names[0] == "execution_started"
    assert names[-1] == "execution_completed"
    assert names.count("agent_started") == names.count("agent_completed") == 8
    completed = [e for e in events if e["event"] == "agent_completed"]
    assert all("cost_increment" in e and e["output_summary"] for e in completed)
    assert all(e["execution_id"] == str(execution.pk) for e in events)
    # The user's stream carries the run's events in the same order, plus account-wide ones
    # (positions).
    user_events = by_user.drain()
    assert [e["event"] for e in user_events if e.get("execution_id") == str(execution.pk)] == names
    assert "trade_executed" in names
    assert "position_updated" in [e["event"] for e in user_events]


def test_trigger_not_met_waits_and_the_sweep_resumes_it(day_trading):
    from trading.clock import ManualClock

    # Saturday: the time trigger waits for Monday's open + 5 minutes.
    saturday = ManualClock(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
    execution = _start(day_trading)
    status = engine.execution_run(execution_id=execution.pk, task_id="t1", clock=saturday)
    assert status == ExecutionStatus.WAITING_TRIGGER
    execution.refresh_from_db()
    assert execution.next_check_at == datetime(2026, 11, 30, 14, 35, tzinfo=UTC)
    trigger_step = execution.steps.get(node_id="node-1")
    assert trigger_step.status == StepStatus.WAITING
    assert execution.steps.get(node_id="pipeline-manager").status == StepStatus.COMPLETED

    assert services.executions_resume_due(now=execution.next_check_at - timedelta(seconds=1)) == 0
    assert services.executions_resume_due(now=execution.next_check_at) == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PENDING

    monday = ManualClock(datetime(2026, 11, 30, 14, 36, tzinfo=UTC))
    assert engine.execution_run(execution_id=execution.pk, task_id="t2", clock=monday) == (
        ExecutionStatus.COMPLETED
    )
    # The budget gate ran once: finished steps are never repeated.
    assert execution.steps.get(node_id="pipeline-manager").attempts == 1
    assert execution.steps.get(node_id="node-1").attempts == 2


def test_a_step_failure_fails_the_run_and_stops_downstream(owner, clock):
    from pipelines.blueprints import pipeline_create_from_blueprint

    pipeline, _ = pipeline_create_from_blueprint(
        owner=owner, key="day_trading_5m", symbols=["ZZZZZZZ"]
    )
    execution = _start(pipeline)
    status = engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock)
    assert status == ExecutionStatus.FAILED
    execution.refresh_from_db()
    assert execution.error
    failed = execution.steps.get(status=StepStatus.FAILED)
    assert failed.agent_type == "market_data_agent"
    assert not execution.steps.filter(agent_type="bias_agent").exists()


def test_an_exhausted_budget_fails_closed_before_any_paid_agent(day_trading, clock):
    owner = day_trading.owner
    owner.budget_limit_daily = Decimal("0.00")
    owner.save()
    execution = _start(day_trading)
    assert engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock) == "failed"
    execution.refresh_from_db()
    assert "daily budget" in execution.error
    assert list(execution.steps.values_list("node_id", flat=True)) == ["pipeline-manager"]
    assert not CostEntry.objects.filter(execution_id=execution.pk).exists()


def test_a_second_task_cannot_run_an_execution_it_does_not_hold(day_trading, clock):
    execution = _start(day_trading)
    PipelineExecution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.RUNNING,
        lease_owner="other",
        lease_expires_at=clock.now() + timedelta(minutes=5),
    )
    assert engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock) is None
    assert not StepRun.objects.filter(execution=execution).exists()
    # Once the lease has expired, anyone may take over (the reaper hands it to a fresh task).
    clock.advance(timedelta(minutes=6))
    assert engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock) == "completed"


def test_a_redelivered_task_resumes_after_the_last_finished_step(day_trading, clock):
    execution = _start(day_trading)
    runner_clock = clock
    # Run three steps and start the fourth, then "die" inside it (the lease stays with t1).
    execution = execution_state.execution_claim(execution.pk, "t1", runner_clock.now())
    assert execution is not None
    runner = engine.ExecutionRunner(execution, task_id="t1", clock=runner_clock)
    state = engine.initial_state(execution)
    plan = engine.execution_plan(execution.graph)
    for position, step in enumerate(plan[:3]):
        state = runner._run_step(position, step, state)
    runner.journal.step_started(3, plan[3], "rules", state)
    assert StepRun.objects.filter(execution=execution, status="completed").count() == 3
    # The same message comes back (same task id): it resumes with the step it died in.
    assert engine.execution_run(execution_id=execution.pk, task_id="t1", clock=clock) == "completed"
    attempts = dict(StepRun.objects.filter(execution=execution).values_list("node_id", "attempts"))
    assert len(attempts) == 8
    assert attempts.pop(plan[3].node_id) == 2
    assert set(attempts.values()) == {1}  # finished steps were not repeated
    execution.refresh_from_db()
    assert execution.attempts == 2


def test_stop_cancels_a_waiting_run(day_trading):
    from trading.clock import ManualClock

    execution = _start(day_trading)
    engine.execution_run(
        execution_id=execution.pk,
        task_id="t1",
        clock=ManualClock(datetime(2026, 11, 28, tzinfo=UTC)),
    )
    assert services.execution_stop(execution=execution)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.steps.get(node_id="node-1").status == StepStatus.CANCELLED
    assert services.executions_resume_due(now=datetime(2026, 12, 1, tzinfo=UTC)) == 0
    assert not services.execution_stop(execution=execution)
