"""The execution engine: runs one PipelineExecution step by step, durably (ARCHITECTURE §4).

Every step writes its StepRun when it starts and when it ends, and the state is saved after every
step, so a redelivered task resumes after the last finished step. The execution is held under a
lease (owner = the Celery task id): a redelivery of the same task, or anyone after the lease has
expired, may take it over; nobody else can.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from django.db import transaction

from agents.builtin.common import llm_fell_back
from agents.errors import AgentError, TriggerNotMet
from agents.registry import agent_class, create_agent
from agents.state import AgentCost, PipelineState
from billing.reservations import BudgetExhausted
from billing.services import agent_rental_cost
from config.core import metrics, tracing
from config.core.events import event_emit
from pipelines.execution_setup import (
    PIPELINE_MANAGER_NODE,
    PlannedStep,
    build_context,
    execution_plan,
    initial_state,
)
from pipelines.execution_state import (
    FinishedStep,
    LeaseHeartbeat,
    LeaseLost,
    execution_claim,
    execution_fail_before_start,
)
from pipelines.models import (
    ExecutionStatus,
    PipelineExecution,
    StepRun,
    StepStatus,
    TriggerSource,
)
from pipelines.run_journal import RunJournal
from trading.clock import Clock, SystemClock
from trading.executors.base import ExecutionError
from trading.marketdata.base import MarketDataError

logger = logging.getLogger(__name__)


class ExecutionRunner:
    """Runs the plan: each step's agent, its cost, the budget gate, and what a waiting trigger
    or an error means for the run. What happened is written by its `journal`
    (`pipelines.run_journal`), batched per step boundary."""

    def __init__(self, execution: PipelineExecution, *, task_id: str, clock: Clock):
        self.execution = execution
        self.task_id = task_id
        self.clock = clock
        self.ctx = build_context(execution, clock=clock)
        # A first attempt has no steps yet; a resumed one reads which are done.
        self.steps = (
            {step.node_id: step for step in StepRun.objects.filter(execution=execution)}
            if execution.attempts > 1 or execution.state
            else {}
        )
        self.journal = RunJournal(execution, task_id=task_id, clock=clock, meter=self.ctx.meter)

    def run(self) -> str:
        execution = self.execution
        state = (
            PipelineState.model_validate(execution.full_state)
            if execution.state
            else initial_state(execution)
        )
        self.journal.writer.loaded(state)
        plan = self._plan = execution_plan(execution.graph)
        done = {
            node_id for node_id, step in self.steps.items() if step.status == StepStatus.COMPLETED
        }
        try:
            if PIPELINE_MANAGER_NODE in done and not self._reserve_again(plan, done, state):
                return self._reload_status()
            for position, step in enumerate(plan):
                if step.node_id in done:
                    continue
                state = self._run_step(position, step, state)
                if state is None:
                    return self._reload_status()
            return self.journal.run_completed(state)
        except LeaseLost:
            return self._reload_status()

    def _reserve_again(
        self, plan: list[PlannedStep], skip: set[str], state: PipelineState, position: int = 0
    ) -> bool:
        """Reserve what the steps still to run are estimated to cost (a resumed run's
        reservation was released while it waited; a run whose spend reached its reservation
        needs more before its next paid step). False when the budget has no room: the run has
        failed and the pipeline's exhaustion policy applies."""
        budget = self.ctx.budget
        if budget is None:
            return True
        left = {step.node_id for step in plan[position:] if step.node_id not in skip}
        try:
            estimate = budget.estimate_execution_cost(
                symbol_count=max(1, len(state.symbols)), node_ids=left
            )
            budget.reserve(
                estimate=estimate,
                spent_by_run=state.total_cost,
                unrecorded=self.journal.unrecorded_cost(),
            )
        except AgentError as error:
            self.journal.run_failed(None, plan[position], str(error), state)
            if isinstance(error, BudgetExhausted):
                self._budget_exhausted(str(error))
            return False
        return True

    def _budget_exhausted(self, message: str) -> None:
        """The pipeline's policy once its budget is gone (§11.5), after the failure commits."""
        from pipelines.runmodes import pipeline_budget_exhausted

        pipeline_id = self.execution.pipeline_id
        transaction.on_commit(
            lambda: pipeline_budget_exhausted(pipeline_id=pipeline_id, reason=message)
        )

    def _reload_status(self) -> str:
        return PipelineExecution.objects.values_list("status", flat=True).get(pk=self.execution.pk)

    def _run_step(self, position: int, step: PlannedStep, state: PipelineState):
        cls = agent_class(step.agent_type)
        if cls is None:
            self.journal.run_failed(None, step, f"Unknown agent type {step.agent_type!r}.", state)
            return None
        engine = step.config.get("engine", "rules") if isinstance(step.config, dict) else "rules"
        budget = self.ctx.budget
        if (
            budget is not None
            and budget.reserved is not None
            and state.total_cost >= budget.reserved
            and (cls.metadata.pricing_rate > 0 or engine == "llm")
            and not self._reserve_again(self._plan, set(), state, position)
        ):
            # Spent what it reserved: a paid step needs more, which the budget does not have.
            return None
        step_run = self.journal.step_started(position, step, engine, state)
        self.ctx.meter.begin_step()
        started = time.perf_counter()
        is_trigger = cls.metadata.category == "trigger"
        skipped = ""
        try:
            agent = create_agent(step.node_id, step.agent_type, step.config)
            if is_trigger and self.execution.trigger_detail.get("skip_trigger"):
                skipped = "Skipped: started with “Run now (skip the trigger)”"
            else:
                state = tracing.agent_process(agent, step.agent_type, state, self.ctx)
        except TriggerNotMet as waiting:
            if self.execution.trigger_source == TriggerSource.SIGNAL:
                # A signal's run checks the trigger once, for the signal's tickers, and never
                # waits: parked, it would hold the pipeline's one run slot and every later
                # signal would be skipped.
                return self._end_trigger_not_met(step_run, step, cls, state, waiting, started)
            self.journal.step_waiting(step_run, step, state, waiting)
            return None
        except BudgetExhausted as error:
            self.journal.run_failed(step_run, step, str(error), state)
            self._budget_exhausted(str(error))
            return None
        except (AgentError, MarketDataError, ValueError) as error:
            self.journal.run_failed(step_run, step, str(error), state)
            return None
        except Exception as error:
            logger.exception("agent %s (%s) crashed", step.node_id, step.agent_type)
            self.journal.run_failed(
                step_run,
                step,
                f"{cls.metadata.name} failed unexpectedly ({type(error).__name__}: {error}).",
                state,
            )
            return None
        runtime = time.perf_counter() - started
        self._account_step(
            step_run,
            step,
            cls,
            engine,
            state,
            runtime,
            summarize=lambda: (skipped or agent.summarize(state))[:1000],
        )
        return state

    def _account_step(self, step_run, step, cls, engine: str, state, runtime: float, summarize):
        """What a finished step cost (its agent's time and its model calls), added to the run's
        state and kept for the next step boundary's write."""
        metrics.step_finished(agent_type=step.agent_type, seconds=runtime)
        usage = self.ctx.meter.step_usage()
        llm_calls = (
            self.ctx.meter.calls[len(self.ctx.meter.calls) - usage.calls :] if usage.calls else []
        )
        agent_cost = agent_rental_cost(
            pricing_rate=cls.metadata.pricing_rate, runtime_seconds=runtime
        )
        token_cost = sum((call.cost for call in llm_calls), Decimal("0"))
        state.agent_costs.append(
            AgentCost(
                agent_id=step.node_id,
                agent_type=step.agent_type,
                runtime_seconds=round(runtime, 6),
                agent_cost=agent_cost,
                tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out,
                token_cost=token_cost,
            )
        )
        state.total_cost += agent_cost + token_cost
        self.journal.finished = FinishedStep(
            step_ref=step_run,
            step=step,
            pricing_rate=cls.metadata.pricing_rate,
            runtime=runtime,
            summary=summarize(),  # after the costs: a summary may read them
            agent_cost=agent_cost,
            usage=usage,
            llm_calls=llm_calls,
            engine="rules" if engine == "llm" and llm_fell_back(state, step.node_id) else None,
        )

    def _end_trigger_not_met(
        self, step_run, step, cls, state: PipelineState, waiting: TriggerNotMet, started: float
    ) -> None:
        """The trigger does not hold for the signal's tickers: the run ends here, completed,
        with the trigger step saying so; the later agents do not run."""
        reason = waiting.reason.split("; next check")[0].rstrip(".")
        message = f"Trigger not met: {reason}. A signal's run checks its trigger once."
        state.add_warning(step.node_id, message)
        state.metadata["ended"] = "trigger_not_met"
        usage = self.ctx.meter.step_usage()
        llm_calls = self.ctx.meter.calls[len(self.ctx.meter.calls) - usage.calls :]
        runtime = time.perf_counter() - started
        agent_cost = agent_rental_cost(
            pricing_rate=cls.metadata.pricing_rate, runtime_seconds=runtime
        )
        state.total_cost += agent_cost + usage.token_cost
        self.journal.finished = FinishedStep(
            step_ref=step_run,
            step=step,
            pricing_rate=cls.metadata.pricing_rate,
            runtime=runtime,
            summary=message[:1000],
            agent_cost=agent_cost,
            usage=usage,
            llm_calls=llm_calls if usage.calls else [],
        )
        self.journal.run_completed(state)
        return None


def execution_run(*, execution_id, task_id: str, clock: Clock | None = None) -> str | None:
    """Run (or resume) an execution; returns its status, or None when it was not ours to run."""
    clock = clock or SystemClock()
    started = time.perf_counter()
    execution = execution_claim(execution_id, task_id, clock.now())
    if execution is None:
        return None
    if execution.attempts == 1:
        event_emit(
            event="execution_started",
            owner_id=execution.owner_id,
            execution_id=execution.pk,
            pipeline_id=str(execution.pipeline_id),
            trigger_source=execution.trigger_source,
        )
    try:
        runner = ExecutionRunner(execution, task_id=task_id, clock=clock)
    except ExecutionError as error:
        # E.g. PAPER without a broker connection: the run cannot start; say why.
        execution_fail_before_start(execution, task_id, str(error), clock.now())
        status = ExecutionStatus.FAILED
    else:
        with LeaseHeartbeat(execution_id=execution.pk, task_id=task_id):
            status = runner.run()
    metrics.execution_ended(
        status=status, mode=execution.trading_mode, seconds=time.perf_counter() - started
    )
    return status
