"""The execution engine: runs one PipelineExecution step by step, durably (ARCHITECTURE §4).

Every step writes its StepRun when it starts and when it ends, and the state is saved after every
step, so a redelivered task resumes after the last finished step. The execution is held under a
lease (owner = the Celery task id): a redelivery of the same task, or anyone after the lease has
expired, may take it over; nobody else can.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import BrokerConnection, User
from agents.builtin.common import llm_fell_back
from agents.builtin.pipeline_manager import PIPELINE_MANAGER_TYPE
from agents.context import AgentContext, PipelineInfo
from agents.errors import AgentError, TriggerNotMet
from agents.metering import CostMeter
from agents.registry import agent_class, create_agent
from agents.state import AgentCost, PipelineState
from billing.budget import PipelineBudgetGate
from billing.models import ReservationStatus
from billing.reservations import SETTLE_CTE, BudgetExhausted, reservation_end
from billing.services import (
    LEDGER_CTES,
    StepCharge,
    agent_rental_cost,
    charge_record,
    ledger_params,
    step_charge,
)
from config import metrics, tracing
from config.db import fetch_one_prepared, model_columns, model_from_row
from config.events import event_build, event_emit, events_send
from pipelines import hooks
from pipelines.graph import required_timeframes, topological_order
from pipelines.models import (
    CYCLING_MODES,
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    Report,
    StepRun,
    StepStatus,
    TriggerSource,
)
from trading.clock import Clock, SystemClock
from trading.executors.base import ExecutionError
from trading.executors.factory import executor_for
from trading.marketdata.base import MarketDataError
from trading.marketdata.registry import market_data_provider, news_provider

logger = logging.getLogger(__name__)

# A running task renews its lease every HEARTBEAT (a step may take minutes: an LLM call), so the
# lease can be short: a worker that died is noticed LEASE after its last beat, and the reaper
# (every 30 s, config/beat.py) hands its run to a new task within about a minute and a quarter.
LEASE = timedelta(seconds=45)
HEARTBEAT = LEASE / 3
PIPELINE_MANAGER_NODE = "pipeline-manager"


@dataclass(frozen=True)
class PlannedStep:
    node_id: str
    agent_type: str
    config: dict[str, Any]


def execution_plan(graph: dict[str, Any]) -> list[PlannedStep]:
    """The pipeline manager first, then the graph's nodes in topological order."""
    nodes = {node["id"]: node for node in graph.get("nodes", [])}
    edges = [(edge["from"], edge["to"]) for edge in graph.get("edges", [])]
    order = topological_order(list(nodes), edges)
    if order is None:
        raise AgentError("The pipeline graph has a cycle; edit the pipeline and save it again.")
    steps = [PlannedStep(PIPELINE_MANAGER_NODE, PIPELINE_MANAGER_TYPE, {})]
    steps += [
        PlannedStep(node_id, nodes[node_id]["agent_type"], nodes[node_id].get("config") or {})
        for node_id in order
    ]
    return steps


def build_context(execution: PipelineExecution, *, clock: Clock) -> AgentContext:
    pipeline = execution.pipeline
    market_data = market_data_provider()
    nodes = execution.graph.get("nodes", [])
    settings_ = pipeline.settings or {}
    max_cost = settings_.get("max_cost_per_run")
    return AgentContext(
        clock=clock,
        market_data=market_data,
        news=news_provider(),
        executor=executor_for(
            owner=execution.owner,
            mode=execution.trading_mode,
            mode_config=pipeline.mode_config or {},
            clock=clock,
            market_data=market_data,
            broker_connection=pipeline.broker_connection,
        ),
        pipeline=PipelineInfo(
            pipeline_id=str(pipeline.pk),
            name=pipeline.name,
            owner_id=str(execution.owner_id),
            trading_mode=execution.trading_mode,
            mode_config=pipeline.mode_config or {},
            settings=settings_,
            symbols=tuple(pipeline.symbols or ()),
            required_timeframes=frozenset(required_timeframes(nodes)),
            execution_id=str(execution.pk),
        ),
        meter=CostMeter(
            max_tokens_per_run=settings_.get("max_tokens_per_run"),
            max_cost_per_run=Decimal(str(max_cost)) if max_cost is not None else None,
        ),
        budget=PipelineBudgetGate(
            owner=execution.owner,
            pipeline_id=pipeline.pk,
            pipeline_daily_limit=pipeline.daily_budget,
            graph=execution.graph,
            execution_id=execution.pk,
            clock=clock,
        ),
        symbol_source=hooks.symbol_source_for(owner=execution.owner),
    )


def initial_state(execution: PipelineExecution) -> PipelineState:
    pipeline = execution.pipeline
    symbols = execution.trigger_detail.get("symbols") or pipeline.symbols or []
    return PipelineState(
        pipeline_id=str(pipeline.pk),
        execution_id=str(execution.pk),
        user_id=str(execution.owner_id),
        trading_mode=execution.trading_mode,
        primary_timeframe=pipeline.primary_timeframe,
        symbols=[str(symbol).upper() for symbol in symbols],
        metadata={"trigger_source": execution.trigger_source, **execution.trigger_detail},
    )


# The claim and the step boundaries are checkpoints, so they commit without waiting for their
# WAL flush (synchronous_commit off for the statement's own transaction only; the setting does
# not outlive it). A database crash can lose the last few hundred milliseconds of checkpoints,
# never a part of one, and WAL order keeps what survives a prefix of the run. The run is then
# back to pending, or RUNNING under an expiring lease: the reaper sends it to a new task, which
# replays the steps after the last surviving checkpoint — what a worker crash between a step's
# work and its checkpoint already causes. An order is committed synchronously under its
# client_order_id before the broker hears of it, so a replayed trade step finds it. The end of
# a run stays synchronous: its final record, its report and what follows them (after-run
# hooks, notifications) are not replayed.
_CHECKPOINT_CTE = """checkpoint AS (
    SELECT set_config('synchronous_commit', 'off', true)
)"""

# The claim: a pending execution, or a running one whose lease is this task's (a redelivery)
# or has expired (its worker is gone).
_CLAIM_SQL = (
    "WITH "  # noqa: S608 - constant text with the shared CTEs; values are parameters
    + _CHECKPOINT_CTE
    + """, claimed AS (
    UPDATE pipelines_pipelineexecution
       SET status = '{running}', lease_owner = %(task_id)s, lease_expires_at = %(lease_expires_at)s,
           attempts = attempts + 1, started_at = COALESCE(started_at, %(now)s),
           next_check_at = NULL, updated_at = %(now)s
      FROM checkpoint
     WHERE id = %(execution_id)s
       AND (status = '{pending}'
            OR (status = '{running}'
                AND (lease_owner = %(task_id)s OR lease_expires_at < %(now)s)))
 RETURNING *
)
SELECT {columns}
  FROM claimed
  JOIN pipelines_pipeline ON pipelines_pipeline.id = claimed.pipeline_id
  JOIN accounts_user ON accounts_user.id = claimed.owner_id
  LEFT JOIN accounts_brokerconnection
    ON accounts_brokerconnection.id = pipelines_pipeline.broker_connection_id
"""
)


@functools.cache
def _claim_sql() -> str:
    columns = ", ".join(
        [
            model_columns(PipelineExecution, "claimed"),
            model_columns(Pipeline),
            model_columns(User),
            model_columns(BrokerConnection),
        ]
    )
    return _CLAIM_SQL.format(
        columns=columns, running=ExecutionStatus.RUNNING, pending=ExecutionStatus.PENDING
    )


def _claim(execution_id, task_id: str, now: datetime) -> PipelineExecution | None:
    """Take the execution for `task_id` and load it with its pipeline, owner and broker
    connection, in one statement; None when it is not this task's to run.

    One round trip and no query compilation: this starts every run."""
    row = fetch_one_prepared(
        _claim_sql(),
        {
            "execution_id": execution_id,
            "task_id": task_id,
            "now": now,
            "lease_expires_at": now + LEASE,
        },
    )
    if row is None:
        return None
    values = iter(row)
    execution = model_from_row(PipelineExecution, values)
    pipeline = model_from_row(Pipeline, values)
    owner = model_from_row(User, values)
    broker_connection = model_from_row(BrokerConnection, values)
    pipeline.owner = execution.owner = owner
    pipeline.broker_connection = broker_connection if broker_connection.pk is not None else None
    execution.pipeline = pipeline
    return execution


class _LeaseLost(Exception):
    """The execution was cancelled or taken over; stop without touching it."""


@dataclass(frozen=True)
class _StepRef:
    pk: int
    attempts: int


# The previous step completed, in both statements that end a step; only if `lease` (this task
# still holds the execution) yields a row.
_FINISHED_STEP_CTE = f""", finished AS (
    UPDATE pipelines_steprun
       SET status = '{StepStatus.COMPLETED}', finished_at = %(now)s, duration_ms = %(duration_ms)s,
           tokens_in = %(tokens_in)s, tokens_out = %(tokens_out)s,
           agent_cost = %(agent_cost)s, token_cost = %(token_cost)s,
           output_summary = %(summary)s, engine = COALESCE(%(finished_engine)s, engine)
     WHERE id = %(finished_id)s AND EXISTS (SELECT 1 FROM lease)
)
"""  # noqa: S608 - enum values; inputs are parameters

# One statement per step boundary (ARCHITECTURE §4: a StepRun row when a step starts and when
# it ends, the state after every step): it renews the lease while saving the state, marks the
# previous step completed and starts (or, on a redelivery, restarts) the next one — all only if
# this task still holds the execution. Written as SQL because the engine's speed is dominated
# by round trips: this is one instead of six. A checkpoint (above). bench/bench_checkpoint.py,
# 2000 boundaries each, back to back (2026-12-02, load average 9.0 on 2 cores): this statement
# p50 0.41 ms / p99 8.8 ms; the same writes through the ORM (4 statements in a transaction)
# p50 8.61 ms / p99 25.2 ms.
_STEP_BOUNDARY_SQL = (
    "WITH "  # noqa: S608 - constant text with the shared CTEs; values are parameters
    + _CHECKPOINT_CTE
    + f""", lease AS (
    UPDATE pipelines_pipelineexecution
       SET state = %(state)s::jsonb,
           market_data = COALESCE(%(market_data)s::jsonb, market_data),
           total_cost = %(total_cost)s,
           current_node = %(node_id)s,
           lease_expires_at = %(lease_expires_at)s,
           updated_at = %(now)s
      FROM checkpoint
     WHERE id = %(execution_id)s AND status = '{ExecutionStatus.RUNNING}'
       AND lease_owner = %(task_id)s
 RETURNING id
)"""  # noqa: S608 - enum values; inputs are parameters
    + _FINISHED_STEP_CTE
    + LEDGER_CTES
    + f"""
INSERT INTO pipelines_steprun (
    execution_id, node_id, agent_type, position, status, engine, started_at, attempts,
    tokens_in, tokens_out, agent_cost, token_cost, output_summary, error
)
SELECT id, %(node_id)s, %(agent_type)s, %(position)s, '{StepStatus.RUNNING}', %(engine)s,
       %(now)s, 1, 0, 0, 0, 0, '', ''
  FROM lease
ON CONFLICT (execution_id, node_id) DO UPDATE
   SET status = '{StepStatus.RUNNING}', started_at = EXCLUDED.started_at,
       attempts = pipelines_steprun.attempts + 1, error = ''
RETURNING id, attempts
"""  # noqa: S608 - enum values; inputs are parameters
)


# The report a completed run writes (the model's default type).
REPORT_OF_A_RUN = Report._meta.get_field("report_type").default

# The end of a successful run in one statement: the final state, the last step completed and
# the report — again only if this task still holds the execution.
_COMPLETION_SQL = (
    f"""
WITH lease AS (
    UPDATE pipelines_pipelineexecution
       SET state = %(state)s::jsonb,
           market_data = COALESCE(%(market_data)s::jsonb, market_data),
           total_cost = %(total_cost)s,
           status = '{ExecutionStatus.COMPLETED}', finished_at = %(now)s, current_node = '',
           lease_owner = '', lease_expires_at = NULL, updated_at = %(now)s
     WHERE id = %(execution_id)s AND status = '{ExecutionStatus.RUNNING}'
       AND lease_owner = %(task_id)s
 RETURNING id
)"""  # noqa: S608 - constant text with the shared CTEs; values are parameters
    + _FINISHED_STEP_CTE
    + SETTLE_CTE
    + f""", report AS (
    INSERT INTO pipelines_report (
        id, execution_id, pipeline_id, owner_id, report_type, title, summary, full_report,
        created_at
    )
    SELECT %(report_id)s, id, %(pipeline_id)s, %(owner_id)s, '{REPORT_OF_A_RUN}', %(report_title)s,
           %(report_summary)s, %(report)s::jsonb, %(now)s
      FROM lease
     WHERE %(report)s IS NOT NULL
)
"""  # noqa: S608 - enum values; inputs are parameters
    + LEDGER_CTES
    + f"""
SELECT id, EXISTS (
           SELECT 1 FROM pipelines_pipeline
            WHERE id = %(pipeline_id)s AND status = '{PipelineStatus.ACTIVE}'
              AND run_mode = ANY(%(cycling_modes)s)
       ) AS cycling
  FROM lease
"""  # noqa: S608 - enum values; inputs are parameters
)


@dataclass
class _FinishedStep:
    """A step whose work is done; it is written together with the next step's start."""

    step_ref: _StepRef

    step: PlannedStep
    pricing_rate: Decimal
    runtime: float
    summary: str
    agent_cost: Decimal
    usage: Any
    llm_calls: list
    engine: str | None = None  # "rules" when an llm-engine step fell back to rules


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
        # Which MarketData objects were last written (agents replace, never mutate, them).
        self._saved_market_data: tuple | None = None
        self._finished: _FinishedStep | None = None
        self._pending_fingerprint: tuple | None = None

    # --- persistence helpers ---------------------------------------------------------------

    def _owned(self):
        return PipelineExecution.objects.filter(
            pk=self.execution.pk, status=ExecutionStatus.RUNNING, lease_owner=self.task_id
        )

    def _emit(self, event: str, **fields) -> None:
        event_emit(
            event=event, owner_id=self.execution.owner_id, execution_id=self.execution.pk, **fields
        )

    def _event(self, event: str, **fields):
        return event_build(
            event=event, owner_id=self.execution.owner_id, execution_id=self.execution.pk, **fields
        )

    def _save_state(self, state: PipelineState, **fields) -> None:
        """Write the state (and whatever else changes on the execution) if we still hold it."""
        now = self.clock.now()
        state.updated_at = now
        fingerprint = tuple((symbol, id(data)) for symbol, data in state.market_data.items())
        if fingerprint != self._saved_market_data:
            fields["market_data"] = {
                symbol: data.model_dump(mode="json") for symbol, data in state.market_data.items()
            }
        updated = self._owned().update(
            state=state.model_dump(mode="json", exclude={"market_data"}),
            updated_at=now,
            lease_expires_at=fields.pop("lease_expires_at", now + LEASE),
            **fields,
        )
        if not updated:
            raise _LeaseLost
        self._saved_market_data = fingerprint

    def _begin_step(
        self, position: int, step: PlannedStep, engine: str, state: PipelineState
    ) -> _StepRef:
        """Record, at once, that the previous step finished and that `step` starts."""
        now = self.clock.now()
        finished, self._finished = self._finished, None
        token_cost = _token_cost(finished)
        params = {
            **self._state_params(state, now),
            **_finished_params(finished, token_cost, now),
            **self._ledger_params(finished, now),
            "node_id": step.node_id,
            "lease_expires_at": now + LEASE,
            "agent_type": step.agent_type,
            "position": position,
            "engine": engine,
        }
        # One statement, atomic on its own, the finished step's charge included.
        row = fetch_one_prepared(_STEP_BOUNDARY_SQL, params)
        if row is None:
            raise _LeaseLost
        step_ref = _StepRef(pk=row[0], attempts=row[1])
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
        self._saved_market_data = self._pending_fingerprint
        return step_ref

    def _state_params(self, state: PipelineState, now: datetime) -> dict[str, Any]:
        state.updated_at = now
        fingerprint = tuple((symbol, id(data)) for symbol, data in state.market_data.items())
        market_data = None
        if fingerprint != self._saved_market_data:
            # Each symbol's JSON straight from pydantic's serializer (no Python dict on the way).
            market_data = (
                "{"
                + ",".join(
                    f"{json.dumps(symbol)}:{data.model_dump_json()}"
                    for symbol, data in state.market_data.items()
                )
                + "}"
            )
        self._pending_fingerprint = fingerprint
        return {
            "state": state.model_dump_json(exclude={"market_data"}),
            "market_data": market_data,
            "total_cost": state.total_cost,
            "now": now,
            "execution_id": self.execution.pk,
            "task_id": self.task_id,
        }

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

    def _finished_charge(self, finished: _FinishedStep) -> StepCharge:
        return self._charge(
            finished.step,
            pricing_rate=finished.pricing_rate,
            runtime=finished.runtime,
            llm_calls=finished.llm_calls,
        )

    def _ledger_params(self, finished: _FinishedStep | None, now: datetime) -> dict[str, Any]:
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

    def _completed_event(self, finished: _FinishedStep, token_cost: Decimal):
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
        self._saved_market_data = tuple((s, id(d)) for s, d in state.market_data.items())
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
        except _LeaseLost:
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
            unrecorded = finished.agent_cost + _token_cost(finished) if finished else Decimal(0)
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
        self._finished = _FinishedStep(
            step_ref=step_run,
            step=step,
            pricing_rate=cls.metadata.pricing_rate,
            runtime=runtime,
            summary=(skipped or agent.summarize(state))[:1000],
            agent_cost=agent_cost,
            usage=usage,
            llm_calls=llm_calls,
            engine="rules" if engine == "llm" and llm_fell_back(state, step.node_id) else None,
        )
        return state

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
        self._finished = _FinishedStep(
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
            self._save_state(
                state,
                status=ExecutionStatus.WAITING_TRIGGER,
                next_check_at=next_check,
                total_cost=state.total_cost,
                lease_owner="",
                lease_expires_at=None,
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
            self._save_state(
                state,
                status=ExecutionStatus.FAILED,
                error=message,
                finished_at=now,
                total_cost=state.total_cost,
                lease_owner="",
                lease_expires_at=None,
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
        token_cost = _token_cost(finished)
        summary = state.reports.get("_summary", {}) if state.reports else {}
        report_id = uuid.uuid4() if state.reports else None
        params = {
            **self._state_params(state, now),
            **_finished_params(finished, token_cost, now),
            "report_id": report_id,
            "pipeline_id": self.execution.pipeline_id,
            "owner_id": self.execution.owner_id,
            "report_title": str(
                summary.get("title") or f"{self.execution.pipeline.name} — run report"
            )[:255],
            "report_summary": str(summary.get("summary") or ""),
            "report": json.dumps(state.reports, cls=DjangoJSONEncoder) if state.reports else None,
            **self._ledger_params(finished, now),
            "cycling_modes": list(CYCLING_MODES),
        }
        # One statement, atomic on its own (the last step's charge included); the events and
        # the after-run hook go once it has committed. It also reads whether the pipeline
        # cycles, which the after-run hook would otherwise ask the database.
        row = fetch_one_prepared(_COMPLETION_SQL, params)
        if row is None:
            raise _LeaseLost
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
                cycling=row[1],
            )
        )
        return ExecutionStatus.COMPLETED


def _token_cost(finished: _FinishedStep | None) -> Decimal:
    if finished is None:
        return Decimal(0)
    return sum((call.cost for call in finished.llm_calls), Decimal("0"))


def _finished_params(finished: _FinishedStep | None, token_cost: Decimal, now) -> dict[str, Any]:
    return {
        "finished_id": finished.step_ref.pk if finished else None,
        "duration_ms": round(finished.runtime * 1000, 3) if finished else None,
        "tokens_in": finished.usage.tokens_in if finished else 0,
        "tokens_out": finished.usage.tokens_out if finished else 0,
        "agent_cost": finished.agent_cost if finished else Decimal(0),
        "token_cost": token_cost,
        "summary": finished.summary if finished else "",
        "finished_engine": finished.engine if finished else None,
    }


def execution_run(*, execution_id, task_id: str, clock: Clock | None = None) -> str | None:
    """Run (or resume) an execution; returns its status, or None when it was not ours to run."""
    clock = clock or SystemClock()
    started = time.perf_counter()
    execution = _claim(execution_id, task_id, clock.now())
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
        _fail_before_start(execution, task_id, str(error), clock.now())
        status = ExecutionStatus.FAILED
    else:
        with LeaseHeartbeat(execution_id=execution.pk, task_id=task_id):
            status = runner.run()
    metrics.execution_ended(
        status=status, mode=execution.trading_mode, seconds=time.perf_counter() - started
    )
    return status


class LeaseHeartbeat:
    """Renews this task's lease every HEARTBEAT on a thread of its own while the run goes on;
    it stops when the run ends or the lease is no longer ours (then the checkpoints, which
    check the lease too, stop the run). It only extends a lease: a step never runs twice
    because of it, since a takeover needs the lease expired, i.e. this process gone."""

    def __init__(self, *, execution_id, task_id: str, every: timedelta = HEARTBEAT):
        self.execution_id = execution_id
        self.task_id = task_id
        self.every = every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{execution_id}", daemon=True
        )

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    renewed = PipelineExecution.objects.filter(
                        pk=self.execution_id,
                        status=ExecutionStatus.RUNNING,
                        lease_owner=self.task_id,
                    ).update(lease_expires_at=timezone.now() + LEASE)
                except Exception:
                    logger.warning("lease heartbeat of %s failed", self.execution_id, exc_info=True)
                    continue  # the database may be back at the next beat
                if not renewed:
                    return
        finally:
            connection.close()  # this thread's connection


def _fail_before_start(execution: PipelineExecution, task_id: str, message: str, now) -> None:
    with transaction.atomic():
        PipelineExecution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, lease_owner=task_id
        ).update(
            status=ExecutionStatus.FAILED,
            error=message,
            finished_at=now,
            lease_owner="",
            lease_expires_at=None,
        )
        event_emit(
            event="execution_completed",
            owner_id=execution.owner_id,
            execution_id=execution.pk,
            status=ExecutionStatus.FAILED,
            error_message=message,
        )
        transaction.on_commit(
            lambda: hooks.execution_finished.send(
                sender=PipelineExecution,
                execution_id=execution.pk,
                pipeline_id=execution.pipeline_id,
            )
        )
