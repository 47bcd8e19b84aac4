"""Budgets that hold: concurrent runs, resumed runs, exhaustion, unpriced models, shared counters.

Runs go through the real engine (and, where a budget must be big enough to express in cents, the
LLM engine against the loopback OpenAI fake); concurrency is real threads on their own database
connections, released together by a barrier."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Notification
from accounts.selectors import user_today
from billing.budget import PipelineBudgetGate
from billing.models import BudgetReservation, CostEntry, DailyCost, ReservationStatus
from billing.reservations import BudgetExhausted, budget_reserve
from billing.services import charge_record, step_charge
from pipelines import engine, services
from pipelines.blueprints import DAY_TRADING, pipeline_create_from_blueprint
from pipelines.models import (
    ExecutionStatus,
    PipelineDailyStats,
    PipelineExecution,
    PipelineStatus,
)
from tests.fakes.openai import FakeOpenAI, TradingDesk
from trading.clock import ManualClock

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "gpt-4o-mini"
# Tuesday 2026-11-24, 10:00 New York; and the Saturday after (the time trigger waits).
SESSION_TIME = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
LLM_NODES = {"node-3", "node-4", "node-7"}  # bias, strategy, reporting


@pytest.fixture
def llm_server(settings):
    with FakeOpenAI(responder=TradingDesk()) as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_API_KEY = fake.api_key
        settings.LLM_DEFAULT_MODEL = MODEL
        settings.LLM_PRICING = {MODEL: {"input": "0.15", "output": "0.6"}}
        settings.LLM_RETRY_BACKOFF_SECONDS = 0
        yield fake


def llm_pipeline(owner, name: str):
    graph = copy.deepcopy(DAY_TRADING.graph)
    for node in graph["nodes"]:
        if node["id"] in LLM_NODES:
            node["config"]["engine"] = "llm"
    pipeline, _ = services.pipeline_create(
        owner=owner,
        name=name,
        graph=graph,
        symbols=["AAPL"],
        primary_timeframe=DAY_TRADING.primary_timeframe,
        trading_mode="SIMULATION",
    )
    return pipeline


def estimate_of(pipeline) -> Decimal:
    gate = PipelineBudgetGate(
        owner=pipeline.owner,
        pipeline_id=pipeline.pk,
        pipeline_daily_limit=None,
        graph=pipeline.graph,
    )
    return gate.estimate_execution_cost(symbol_count=len(pipeline.symbols))


def run_together(executions, clock_at: datetime) -> list[str]:
    """Run every execution in its own thread, all released at once."""
    barrier = threading.Barrier(len(executions))
    statuses: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(index, execution):
        try:
            barrier.wait(timeout=30)
            statuses[index] = engine.execution_run(
                execution_id=execution.pk, task_id=f"t{index}", clock=ManualClock(clock_at)
            )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, e)) for i, e in enumerate(executions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return [statuses[i] for i in range(len(executions))]


def test_it_lets_eight_concurrent_runs_spend_no_more_than_the_limit_plus_one_step(
    owner, llm_server
):
    pipelines = [llm_pipeline(owner, f"LLM bot {i}") for i in range(8)]
    estimate = estimate_of(pipelines[0])
    assert estimate > Decimal("0.50")  # the LLM crews' tokens: big enough to budget in cents
    # Room for one run, not two.
    owner.budget_limit_daily = (estimate * Decimal("1.5")).quantize(Decimal("0.01"))
    owner.save()
    executions = [services.execution_start(pipeline=p, enqueue=False) for p in pipelines]

    statuses = run_together(executions, SESSION_TIME)

    assert sorted(statuses).count(ExecutionStatus.COMPLETED) == 1
    refused = PipelineExecution.objects.filter(status=ExecutionStatus.FAILED)
    assert refused.count() == 7
    assert all("your daily budget" in e.error for e in refused)
    # The refused runs stopped at the gate: no paid step ran, nothing was charged.
    assert not CostEntry.objects.filter(execution_id__in=[e.pk for e in refused]).exists()
    spent = sum(e.total_cost for e in CostEntry.objects.filter(owner=owner))
    largest_step = max(
        (s.agent_cost + s.token_cost)
        for e in PipelineExecution.objects.filter(status=ExecutionStatus.COMPLETED)
        for s in e.steps.all()
    )
    assert Decimal(0) < spent <= owner.budget_limit_daily + largest_step
    # Every reservation ended with its run.
    assert not BudgetReservation.objects.filter(status=ReservationStatus.HELD).exists()


def test_it_reserves_atomically_so_only_one_of_eight_callers_gets_the_last_dollar(owner):
    owner.budget_limit_daily = Decimal("1.00")
    owner.save()
    pipelines = [
        pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")[0] for _ in range(8)
    ]
    executions = [services.execution_start(pipeline=p, enqueue=False) for p in pipelines]
    PipelineExecution.objects.update(status=ExecutionStatus.RUNNING)
    barrier = threading.Barrier(8)
    granted, refused = [], []

    def reserve(pipeline, execution):
        gate = PipelineBudgetGate(
            owner=owner,
            pipeline_id=pipeline.pk,
            pipeline_daily_limit=None,
            graph=pipeline.graph,
            execution_id=execution.pk,
        )
        try:
            barrier.wait(timeout=30)
            gate.reserve(estimate=Decimal("0.60"))
            granted.append(execution.pk)
        except BudgetExhausted as error:
            refused.append(str(error))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=reserve, args=pair)
        for pair in zip(pipelines, executions, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(granted) == 1 and len(refused) == 7
    assert "reserved by runs in progress" in refused[0]
    held = BudgetReservation.objects.get(status=ReservationStatus.HELD)
    assert held.execution_id == granted[0] and held.amount == Decimal("0.60")


def test_it_stops_counting_a_reservation_once_its_run_is_no_longer_in_flight(owner):
    """A run that crashed (failed without settling) leaves its reservation held; it stops
    counting against the owner's other runs as soon as the run is no longer pending or
    running. What a run in flight has already spent counts once (on the ledger), not twice."""
    owner.budget_limit_daily = Decimal("1.00")
    owner.save()
    first, second = (
        services.execution_start(
            pipeline=pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")[0],
            enqueue=False,
        )
        for _ in range(2)
    )

    def reserve(execution):
        return budget_reserve(
            owner=owner,
            pipeline_id=execution.pipeline_id,
            pipeline_daily_limit=None,
            execution_id=execution.pk,
            remaining_estimate=Decimal("0.60"),
        )

    reserve(first)  # pending: in flight
    with pytest.raises(BudgetExhausted, match="reserved by runs in progress"):
        reserve(second)
    # The first run spends 0.30 of its 0.60: the ledger has it, its reservation holds the rest.
    PipelineExecution.objects.filter(pk=first.pk).update(
        status=ExecutionStatus.RUNNING, total_cost=Decimal("0.30")
    )
    DailyCost.objects.create(
        owner=owner,
        pipeline_id=first.pipeline_id,
        day=user_today(owner),
        total_cost=Decimal("0.30"),
    )
    with pytest.raises(BudgetExhausted):
        reserve(second)  # 0.30 spent + 0.30 held + 0.60 > 1.00
    PipelineExecution.objects.filter(pk=first.pk).update(status=ExecutionStatus.FAILED)

    status = reserve(second)  # 0.30 spent + 0.60 <= 1.00

    assert status.spent_today == Decimal("0.30")
    assert BudgetReservation.objects.get(execution_id=first.pk).status == ReservationStatus.HELD
    assert BudgetReservation.objects.get(execution_id=second.pk).amount == Decimal("0.60")


def test_it_refuses_a_resumed_run_once_the_budget_is_gone_and_pauses_once(owner):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    pipeline.status = PipelineStatus.ACTIVE
    pipeline.save()
    owner.budget_limit_daily = Decimal("1.00")
    owner.save()
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    # Saturday: it passes the gate, then waits for Monday's open; nothing is held meanwhile.
    status = engine.execution_run(
        execution_id=execution.pk, task_id="t1", clock=ManualClock(SATURDAY)
    )
    assert status == ExecutionStatus.WAITING_TRIGGER
    reservation = BudgetReservation.objects.get(execution_id=execution.pk)
    assert reservation.status == ReservationStatus.RELEASED

    # While it waited, another pipeline spent Monday's whole budget.
    monday = datetime(2026, 11, 30, 14, 36, tzinfo=UTC)
    charge_record(
        step_charge(
            owner_id=owner.pk,
            pipeline_id=None,
            execution_id=None,
            agent_id="x",
            agent_type="strategy_agent",
            pricing_rate=Decimal("3600"),
            runtime_seconds=1.0,
        ),
        owner=owner,
        pipeline_id=None,
        at=monday,
    )
    services.executions_resume_due(now=monday)
    status = engine.execution_run(
        execution_id=execution.pk, task_id="t2", clock=ManualClock(monday)
    )

    execution.refresh_from_db()
    assert status == ExecutionStatus.FAILED
    assert "your daily budget is $1.00" in execution.error
    # No paid step ran after the resume.
    assert not CostEntry.objects.filter(execution_id=execution.pk, agent_type="bias_agent")
    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.PAUSED
    assert "budget" in pipeline.status_reason

    # A second refusal the same day tells the trader nothing new.
    again = services.execution_start(pipeline=pipeline, enqueue=False)
    assert engine.execution_run(execution_id=again.pk, task_id="t3", clock=ManualClock(monday)) == (
        ExecutionStatus.FAILED
    )
    assert Notification.objects.filter(owner=owner, kind__startswith="budget:").count() == 1


def test_it_reserves_again_before_a_paid_step_once_the_run_has_spent_its_reservation(
    owner, llm_server, monkeypatch
):
    from billing import estimator

    # The estimate badly underrates the crews (a new model, longer prompts): the run is
    # admitted for a fraction of a cent and its first crew spends far more than that.
    tiny = dict.fromkeys(estimator.LLM_AVG_TOKENS, (1, 1))
    monkeypatch.setattr(estimator, "LLM_AVG_TOKENS", tiny)
    monkeypatch.setattr(
        estimator, "LLM_DURATION_SECONDS", dict.fromkeys(estimator.LLM_DURATION_SECONDS, 1.0)
    )
    owner.budget_limit_daily = Decimal("0.05")
    owner.save()
    pipeline = llm_pipeline(owner, "Underestimated")
    execution = services.execution_start(pipeline=pipeline, enqueue=False)

    status = engine.execution_run(
        execution_id=execution.pk, task_id="t1", clock=ManualClock(SESSION_TIME)
    )

    execution.refresh_from_db()
    assert status == ExecutionStatus.FAILED, execution.error
    assert "your daily budget is $0.05" in execution.error
    steps = list(execution.steps.order_by("position"))
    spent = sum(e.total_cost for e in CostEntry.objects.filter(owner=owner))
    # It went over only with the step that crossed the limit, and no paid step ran after it.
    assert spent > owner.budget_limit_daily
    assert spent <= owner.budget_limit_daily + max(s.agent_cost + s.token_cost for s in steps)
    last_paid = max(i for i, s in enumerate(steps) if s.agent_cost + s.token_cost > 0)
    before_last = sum(s.agent_cost + s.token_cost for s in steps[:last_paid])
    assert before_last <= owner.budget_limit_daily
    assert steps[-1].status == "completed"  # refused before the next step started
    assert "reporting_agent" not in {s.agent_type for s in steps}


def test_it_refuses_a_model_without_a_price_unless_it_is_marked_free(owner, settings):
    from agents.llm.config import UnpricedModel
    from billing.estimator import estimate_pipeline_cost

    graph = copy.deepcopy(DAY_TRADING.graph)
    for node in graph["nodes"]:
        if node["id"] == "node-3":
            node["config"].update(engine="llm", model="llama-typo")
    settings.LLM_PRICING = {}
    settings.LLM_FREE_MODELS = []
    with pytest.raises(UnpricedModel, match="No price configured for model 'llama-typo'"):
        estimate_pipeline_cost(graph=graph)

    settings.LLM_FREE_MODELS = ["llama-typo"]
    estimate = estimate_pipeline_cost(graph=graph)
    assert estimate.token_costs["bias_agent"]["cost"] == 0


def test_it_adds_eight_concurrent_losses_of_100_dollars_to_minus_800(owner):
    from pipelines.runmodes import after_trades_closed
    from trading.models import Trade

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    now = SESSION_TIME
    trades = [
        Trade.objects.create(
            owner=owner,
            trading_mode="SIMULATION",
            pipeline_id=pipeline.pk,
            symbol="AAPL",
            side="long",
            quantity=10,
            remaining_quantity=0,
            requested_entry_price=Decimal("100"),
            entry_price=Decimal("100"),
            stop_loss=Decimal("90"),
            initial_stop_loss=Decimal("90"),
            target_1=Decimal("110"),
            target_2=Decimal("120"),
            exit_price=Decimal("90"),
            status="closed",
            realized_pnl=Decimal("-100.00"),
            opened_at=now - timedelta(minutes=30),
            closed_at=now,
        )
        for _ in range(8)
    ]
    barrier = threading.Barrier(8)
    errors = []

    def close(trade):
        try:
            barrier.wait(timeout=30)
            after_trades_closed(trades=[trade], now=now)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(t,)) for t in trades]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    stats = PipelineDailyStats.objects.get(pipeline=pipeline)
    assert stats.daily_pnl == Decimal("-800.00")
    assert stats.peak_pnl == Decimal("0")


def test_it_closes_the_pipelines_positions_when_its_policy_says_so(owner):
    from trading.models import CloseReason, Position, PositionStatus, Trade

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    first = services.execution_start(pipeline=pipeline, enqueue=False)
    engine.execution_run(execution_id=first.pk, task_id="t1", clock=ManualClock(SESSION_TIME))
    opened = Position.objects.filter(pipeline_id=pipeline.pk, status=PositionStatus.OPEN)
    if not opened.exists():
        pytest.fail("the day-trading template opened no position at the session time")
    pipeline.settings = {**(pipeline.settings or {}), "close_positions_on_budget_exhausted": True}
    pipeline.status = PipelineStatus.ACTIVE
    pipeline.save()
    owner.budget_limit_daily = Decimal("0.00")
    owner.save()

    refused = services.execution_start(pipeline=pipeline, enqueue=False)
    engine.execution_run(execution_id=refused.pk, task_id="t2", clock=ManualClock(SESSION_TIME))

    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.PAUSED
    assert not Position.objects.filter(pipeline_id=pipeline.pk, status=PositionStatus.OPEN)
    closed = Trade.objects.filter(pipeline_id=pipeline.pk).exclude(status="open")
    assert closed and all(t.close_reason == CloseReason.BUDGET for t in closed)
    (note,) = Notification.objects.filter(owner=owner, kind__startswith="budget:")
    assert "open positions are being closed" in note.message
