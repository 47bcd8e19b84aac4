"""The execution engine: runs one PipelineExecution step by step, durably (ARCHITECTURE §4).

Every step writes its StepRun when it starts and when it ends, and the state is saved after every
step, so a redelivered task resumes after the last finished step. The execution is held under a
lease (owner = the Celery task id): a redelivery of the same task, or anyone after the lease has
expired, may take it over; nobody else can.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from agents.builtin.common import llm_fell_back
from agents.errors import AgentError, TriggerNotMet
from agents.registry import agent_class, create_agent
from agents.state import AgentCost, PipelineState
from billing.models import ReservationStatus
from billing.reservations import BudgetExhausted, reservation_end
from billing.services import (
    StepCharge,
    agent_rental_cost,
    charge_record,
    ledger_params,
    step_charge,
)
from config.core import metrics, tracing
from config.core.events import event_build, event_emit, events_send
from pipelines import hooks
from pipelines.execution_setup import (
    PIPELINE_MANAGER_NODE,
    PlannedStep,
    build_context,
    execution_plan,
    initial_state,
)
from pipelines.execution_state import (
    LEASE,
    ExecutionStateWriter,
    FinishedStep,
    LeaseHeartbeat,
    LeaseLost,
    StepRef,
    execution_claim,
    execution_fail_before_start,
    finished_params,
    finished_token_cost,
)
from pipelines.models import (
    CYCLING_MODES,
    ExecutionStatus,
    PipelineExecution,
    StepRun,
    StepStatus,
    TriggerSource,
)
from trading.clock import Clock, SystemClock
from trading.executors.base import ExecutionError
from trading.marketdata.base import MarketDataError

logger = logging.getLogger(__name__)


class ExecutionRunner:
    """Runs the plan. Persistence is batched per step boundary: one transaction records that
    step N finished (StepRun, state, costs) and that step N+1 started, then the events for both
    go out — the StepRun rows are still written when each step starts and ends."""

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
        self.writer = ExecutionStateWriter(execution, task_id=task_id)
        self._finished: FinishedStep | None = None

    # --- persistence helpers ---------------------------------------------------------------

    def _emit(self, event: str, **fields) -> None:
        event_emit(
            event=event, owner_id=self.execution.owner_id, execution_id=self.execution.pk, **fields
        )

    def _event(self, event: str, **fields):
        return event_build(
            event=event, owner_id=self.execution.owner_id, execution_id=self.execution.pk, **fields
        )

    def _begin_step(
        self, position: int, step: PlannedStep, engine: str, state: PipelineState
    ) -> StepRef:
        """Record, at once, that the previous step finished and that `step` starts."""
        now = self.clock.now()
        finished, self._finished = self._finished, None
        token_cost = finished_token_cost(finished)
        # One statement, atomic on its own, the finished step's charge included.
        step_ref = self.writer.step_boundary(
            state,
            now,
            **finished_params(finished, token_cost, now),
            **self._ledger_params(finished, now),
            node_id=step.node_id,
            lease_expires_at=now + LEASE,
            agent_type=step.agent_type,
            position=position,
            engine=engine,
        )
        events = [self._completed_event(finished, token_cost)] if finished else []
        events.append(
            self._event(
                "agent_started",
                agent_id=step.node_id,
                agent_type=step.agent_type,
                position=position,
                attempt=step_ref.attempts,
            )
        )
        events_send(events)
        return step_ref

    def _charge(self, step: PlannedStep, *, pricing_rate, runtime: float, llm_calls) -> StepCharge:
        return step_charge(
            owner_id=self.execution.owner_id,
            pipeline_id=self.execution.pipeline_id,
            execution_id=self.execution.pk,
            agent_id=step.node_id,
            agent_type=step.agent_type,
            pricing_rate=pricing_rate,
            runtime_seconds=runtime,
            llm_calls=llm_calls,
        )

    def _finished_charge(self, finished: FinishedStep) -> StepCharge:
        return self._charge(
            finished.step,
            pricing_rate=finished.pricing_rate,
            runtime=finished.runtime,
            llm_calls=finished.llm_calls,
        )

    def _ledger_params(self, finished: FinishedStep | None, now: datetime) -> dict[str, Any]:
        """The finished step's charge, written by the boundary statement that records it."""
        charge = None
        if finished is not None and (finished.agent_cost > 0 or finished.llm_calls):
            charge = self._finished_charge(finished)
        return ledger_params(
            charge, owner=self.execution.owner, pipeline_id=self.execution.pipeline_id, at=now
        )

    def _record_charge(self, charge: StepCharge, now: datetime) -> Decimal:
        """Write a charge on its own (inside the caller's transaction); its token cost."""
        charge_record(
            charge, owner=self.execution.owner, pipeline_id=self.execution.pipeline_id, at=now
        )
        return charge.token_cost

    def _write_finished(self, state: PipelineState) -> None:
        """Record the pending finished step at the end of a run (inside the caller's
        transaction); between steps `_begin_step` records it."""
        finished, self._finished = self._finished, None
        if finished is None:
            return
        now = self.clock.now()
        usage = finished.usage
        token_cost = self._record_charge(self._finished_charge(finished), now)
        StepRun.objects.filter(pk=finished.step_ref.pk).update(
            status=StepStatus.COMPLETED,
            finished_at=now,
            duration_ms=round(finished.runtime * 1000, 3),
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            agent_cost=finished.agent_cost,
            token_cost=token_cost,
            output_summary=finished.summary,
            **({"engine": finished.engine} if finished.engine else {}),
        )
        events_send([self._completed_event(finished, token_cost)])

    def _completed_event(self, finished: FinishedStep, token_cost: Decimal):
        return self._event(
            "agent_completed",
            agent_id=finished.step.node_id,
            agent_type=finished.step.agent_type,
            output_summary=finished.summary,
            duration_ms=round(finished.runtime * 1000, 3),
            cost_increment=finished.agent_cost + token_cost,
            tokens=finished.usage.tokens_in + finished.usage.tokens_out,
        )

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> str:
        execution = self.execution
        state = (
            PipelineState.model_validate(execution.full_state)
            if execution.state
            else initial_state(execution)
        )
        self.writer.loaded(state)
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
            return self._complete(state)
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
            finished = self._finished  # charged with the next step's start: not on the ledger
            unrecorded = (
                finished.agent_cost + finished_token_cost(finished) if finished else Decimal(0)
            )
            budget.reserve(estimate=estimate, spent_by_run=state.total_cost, unrecorded=unrecorded)
        except AgentError as error:
            self._fail(None, plan[position], str(error), state)
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
            self._fail(None, step, f"Unknown agent type {step.agent_type!r}.", state)
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
        step_run = self._begin_step(position, step, engine, state)
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
            self._wait(step_run, step, state, waiting)
            return None
        except BudgetExhausted as error:
            self._fail(step_run, step, str(error), state)
            self._budget_exhausted(str(error))
            return None
        except (AgentError, MarketDataError, ValueError) as error:
            self._fail(step_run, step, str(error), state)
            return None
        except Exception as error:
            logger.exception("agent %s (%s) crashed", step.node_id, step.agent_type)
            self._fail(
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
        self._finished = FinishedStep(
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
        self._finished = FinishedStep(
            step_ref=step_run,
            step=step,
            pricing_rate=cls.metadata.pricing_rate,
            runtime=runtime,
            summary=message[:1000],
            agent_cost=agent_cost,
            usage=usage,
            llm_calls=llm_calls if usage.calls else [],
        )
        self._complete(state)
        return None

    def _charge_unfinished(self, step_run, step, now) -> Decimal:
        """A failed or waiting step's model calls were paid for: put them on the ledger."""
        usage = self.ctx.meter.step_usage()
        if step_run is None or not usage.calls:
            return Decimal(0)
        charge = self._charge(
            step, pricing_rate=Decimal(0), runtime=0, llm_calls=self.ctx.meter.calls[-usage.calls :]
        )
        token_cost = self._record_charge(charge, now)
        StepRun.objects.filter(pk=step_run.pk).update(
            tokens_in=usage.tokens_in, tokens_out=usage.tokens_out, token_cost=token_cost
        )
        return token_cost

    def _wait(self, step_run, step, state: PipelineState, waiting: TriggerNotMet) -> None:
        now = self.clock.now()
        next_check = max(waiting.next_check_at, now + timedelta(seconds=1))
        summary = f"Waiting: {waiting.reason}"[:1000]
        with transaction.atomic():
            state.total_cost += self._charge_unfinished(step_run, step, now)
            self.writer.release(
                state, now, status=ExecutionStatus.WAITING_TRIGGER, next_check_at=next_check
            )
            StepRun.objects.filter(pk=step_run.pk).update(
                status=StepStatus.WAITING, finished_at=now, output_summary=summary
            )
            # Nothing is held while it waits; it reserves again when it resumes.
            reservation_end(execution_id=self.execution.pk, status=ReservationStatus.RELEASED)
            self._emit(
                "execution_waiting",
                agent_id=step.node_id,
                reason=waiting.reason,
                next_check_at=next_check,
            )

    def _fail(self, step_run, step, message: str, state: PipelineState) -> None:
        now = self.clock.now()
        state.add_error(step.node_id, message)
        with transaction.atomic():
            state.total_cost += self._charge_unfinished(step_run, step, now)
            self.writer.release(
                state, now, status=ExecutionStatus.FAILED, error=message, finished_at=now
            )
            self._write_finished(state)
            reservation_end(execution_id=self.execution.pk)
            if step_run is not None:
                StepRun.objects.filter(pk=step_run.pk).update(
                    status=StepStatus.FAILED,
                    finished_at=now,
                    error=message,
                    output_summary=message[:1000],
                )
            self._emit("error", agent_id=step.node_id, error_message=message)
            self._emit(
                "execution_completed",
                status=ExecutionStatus.FAILED,
                total_cost=state.total_cost,
                error_message=message,
            )
            transaction.on_commit(
                lambda: hooks.execution_finished.send(
                    sender=PipelineExecution,
                    execution_id=self.execution.pk,
                    pipeline_id=self.execution.pipeline_id,
                )
            )

    def _complete(self, state: PipelineState) -> str:
        now = self.clock.now()
        finished, self._finished = self._finished, None
        token_cost = finished_token_cost(finished)
        summary = state.reports.get("_summary", {}) if state.reports else {}
        report_id = uuid.uuid4() if state.reports else None
        # One statement, atomic on its own (the last step's charge included); the events and
        # the after-run hook go once it has committed. It also reads whether the pipeline
        # cycles, which the after-run hook would otherwise ask the database.
        cycling = self.writer.complete(
            state,
            now,
            **finished_params(finished, token_cost, now),
            **self._ledger_params(finished, now),
            report_id=report_id,
            pipeline_id=self.execution.pipeline_id,
            owner_id=self.execution.owner_id,
            report_title=str(
                summary.get("title") or f"{self.execution.pipeline.name} — run report"
            )[:255],
            report_summary=str(summary.get("summary") or ""),
            report=json.dumps(state.reports, cls=DjangoJSONEncoder) if state.reports else None,
            cycling_modes=list(CYCLING_MODES),
        )
        events = [self._completed_event(finished, token_cost)] if finished else []
        events.append(
            self._event(
                "execution_completed",
                status=ExecutionStatus.COMPLETED,
                total_cost=state.total_cost,
                report_id=str(report_id) if report_id else None,
            )
        )
        events_send(events)
        transaction.on_commit(
            lambda: hooks.execution_finished.send(
                sender=PipelineExecution,
                execution_id=self.execution.pk,
                pipeline_id=self.execution.pipeline_id,
                cycling=cycling,
            )
        )
        return ExecutionStatus.COMPLETED


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
