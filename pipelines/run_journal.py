"""The run's journal: what each step of an execution did — started, finished, waiting,
failed — and how the run ended, written with its charges and sent as live events.

Persistence is batched per step boundary: one statement records that step N finished (StepRun,
state, costs) and that step N+1 started, then the events for both go out — the StepRun rows are
still written when each step starts and ends. The engine (`pipelines.engine`) decides what
happens; this module writes it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from agents.errors import TriggerNotMet
from agents.metering import CostMeter
from agents.state import PipelineState
from billing.models import ReservationStatus
from billing.reservations import reservation_end
from billing.services import StepCharge, charge_record, ledger_params, step_charge
from config.core.events import event_build, event_emit, events_send
from pipelines import hooks
from pipelines.execution_setup import PlannedStep
from pipelines.execution_state import (
    LEASE,
    ExecutionStateWriter,
    FinishedStep,
    StepRef,
    finished_params,
    finished_token_cost,
)
from pipelines.models import (
    CYCLING_MODES,
    ExecutionStatus,
    PipelineExecution,
    StepRun,
    StepStatus,
)
from trading.clock import Clock


class RunJournal:
    """Writes one execution's steps and end. `finished` holds the step whose work is done until
    the next step boundary (or the run's end) writes it with its charge."""

    def __init__(
        self, execution: PipelineExecution, *, task_id: str, clock: Clock, meter: CostMeter
    ):
        self.execution = execution
        self.clock = clock
        self.meter = meter
        self.writer = ExecutionStateWriter(execution, task_id=task_id)
        self.finished: FinishedStep | None = None

    def unrecorded_cost(self) -> Decimal:
        """What the finished step cost that the ledger does not hold yet (it is charged with
        the next step's start)."""
        finished = self.finished
        return finished.agent_cost + finished_token_cost(finished) if finished else Decimal(0)

    def _emit(self, event: str, **fields) -> None:
        event_emit(
            event=event, owner_id=self.execution.owner_id, execution_id=self.execution.pk, **fields
        )

    def _event(self, event: str, **fields):
        return event_build(
            event=event, owner_id=self.execution.owner_id, execution_id=self.execution.pk, **fields
        )

    def step_started(
        self, position: int, step: PlannedStep, engine: str, state: PipelineState
    ) -> StepRef:
        """Record, at once, that the previous step finished and that `step` starts."""
        now = self.clock.now()
        finished, self.finished = self.finished, None
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
        transaction); between steps `step_started` records it."""
        finished, self.finished = self.finished, None
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

    # --- how a run ends, or waits ---------------------------------------------------------

    def _charge_unfinished(self, step_run, step, now) -> Decimal:
        """A failed or waiting step's model calls were paid for: put them on the ledger."""
        usage = self.meter.step_usage()
        if step_run is None or not usage.calls:
            return Decimal(0)
        charge = self._charge(
            step, pricing_rate=Decimal(0), runtime=0, llm_calls=self.meter.calls[-usage.calls :]
        )
        token_cost = self._record_charge(charge, now)
        StepRun.objects.filter(pk=step_run.pk).update(
            tokens_in=usage.tokens_in, tokens_out=usage.tokens_out, token_cost=token_cost
        )
        return token_cost

    def step_waiting(self, step_run, step, state: PipelineState, waiting: TriggerNotMet) -> None:
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

    def run_failed(self, step_run, step, message: str, state: PipelineState) -> None:
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

    def run_completed(self, state: PipelineState) -> str:
        now = self.clock.now()
        finished, self.finished = self.finished, None
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
