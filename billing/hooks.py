"""Django signals through which billing asks the pipelines app (above it) about runs.

Budgets and estimates need the runs' figures — which runs are still in flight and what they
have spent, what a completed run and each of its steps cost, each step's runtime and tokens,
which pipelines are active — and those rows are the pipelines app's. Imports point one way
(… ← billing ← pipelines), so billing asks here and pipelines answers (its receivers are
connected in `PipelinesConfig.ready`), the way `trading.hooks` asks for pipeline names.

The statements a benchmark keeps hand-written (the budget reservation before every paid step,
the estimate accuracy) ask for the SQL of the runs and steps (`RunsSQL`, built by pipelines from
its models' `_meta` and `ExecutionStatus`) and compose it into their own text once per process.
The rest are ORM reads in pipelines.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

# Asked for the SQL of the runs billing's hand-written statements read. No kwargs; the answer
# is a RunsSQL.
runs_sql_requested = Signal()

# Asked for the owner's median runtime and tokens per completed step since `since` (per symbol
# for the agent types in `per_symbol_agents`). kwargs: owner, since, per_symbol_agents. The
# answer is a list of StepMedians, one per agent type and engine.
step_medians_requested = Signal()

# Asked for the ids of the owner's active pipelines (kwargs: owner). The answer is a list.
active_pipelines_requested = Signal()

# Sent after the commit that changed the plan in force for an owner (kwargs: owner): the
# signal dispatchers re-read the owner's pipelines, whose signal buckets follow the tier.
plan_changed = Signal()


@dataclass(frozen=True)
class RunsSQL:
    """Subqueries over the pipelines app's runs for billing to join (no parameters), each
    yielding (id, total_cost, finished_at): `in_flight`, the runs pending or running (a budget
    reservation counts while its run is one of them, so one whose run crashed before settling
    stops counting); `completed`, the runs that completed. `step_costs` yields (execution_id,
    agent_type, cost) of every step: what it cost in runtime and tokens."""

    in_flight: str
    completed: str
    step_costs: str


@dataclass(frozen=True)
class StepMedians:
    """One agent type's and engine's median step (per symbol where it works once per symbol)."""

    agent_type: str
    engine: str
    steps: int
    duration_ms: float
    tokens_in: float
    tokens_out: float


def _answer(signal: Signal, **kwargs: Any) -> Any:
    answers = [answer for _receiver, answer in signal.send(sender=None, **kwargs)]
    if len(answers) != 1:
        raise ImproperlyConfigured(
            f"billing asks the pipelines app about runs and got {len(answers)} answers: "
            "is `pipelines` in INSTALLED_APPS (its ready() connects the receivers)?"
        )
    return answers[0]


@functools.cache
def runs_sql() -> RunsSQL:
    """The SQL of the runs, asked once per process (the statements built on it are prepared)."""
    return _answer(runs_sql_requested)


def step_medians(*, owner, since: datetime, per_symbol_agents: frozenset[str]) -> list[StepMedians]:
    return _answer(
        step_medians_requested, owner=owner, since=since, per_symbol_agents=per_symbol_agents
    )


def active_pipeline_ids(*, owner) -> list[UUID]:
    return _answer(active_pipelines_requested, owner=owner)
