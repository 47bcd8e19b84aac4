"""The runs' side of billing's questions (billing.hooks): the SQL of the runs and steps its
budget and accuracy statements join, the median step per agent type the estimator starts from,
and which pipelines are active (the plan's limit). Billing sits below pipelines
and asks through its hooks; the receivers in pipelines.receivers answer from here."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Cast, Greatest

from accounts.models import User
from billing.hooks import RunsSQL, StepMedians
from pipelines.models import (
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    StepRun,
    StepStatus,
)

# Runs in some statuses, for billing's statements to join: (id, total_cost, finished_at).
_RUNS_SQL = """SELECT "{id}" AS id, "{total_cost}" AS total_cost, "{finished_at}" AS finished_at
  FROM "{table}" WHERE "{status}" IN ({statuses})
"""


def _runs_in(*statuses: ExecutionStatus) -> str:
    meta = PipelineExecution._meta
    return _RUNS_SQL.format(
        table=meta.db_table,
        statuses=", ".join(f"'{status.value}'" for status in statuses),
        **{
            name: meta.get_field(name).column
            for name in ("id", "total_cost", "finished_at", "status")
        },
    )


# Every step's cost: (execution_id, agent_type, cost).
_STEP_COSTS_SQL = """SELECT "{execution}" AS execution_id, "{agent_type}" AS agent_type,
       "{agent_cost}" + "{token_cost}" AS cost
  FROM "{table}"
"""


def runs_sql() -> RunsSQL:
    """The runs and steps billing's hand-written statements join: tables, columns and statuses
    from the models."""
    steps = StepRun._meta
    return RunsSQL(
        in_flight=_runs_in(ExecutionStatus.PENDING, ExecutionStatus.RUNNING),
        completed=_runs_in(ExecutionStatus.COMPLETED),
        step_costs=_STEP_COSTS_SQL.format(
            table=steps.db_table,
            **{
                name: steps.get_field(name).column
                for name in ("execution", "agent_type", "agent_cost", "token_cost")
            },
        ),
    )


class Median(Aggregate):
    """percentile_cont(0.5) of an expression (PostgreSQL's ordered-set aggregate; Django and
    django.contrib.postgres have none)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _jsonb_length(path: F) -> Func:
    return Func(path, function="jsonb_array_length", output_field=IntegerField())


def _jsonb_kind(path: F) -> Func:
    return Func(path, function="jsonb_typeof", output_field=CharField())


# Medians per step; for an agent that works once per symbol, per symbol the run started with
# (its signal's tickers, else the pipeline's list: what the estimator multiplies by when it
# estimates a run, so a step that handled six tickers is not taken for what one ticker costs).
# Through the ORM: a hand-written query pays nothing here. bench/bench_estimates.py, 35,000
# steps, 30 reads each, back to back (2026-12-02, load average 6.8 on 2 cores): this p50
# 137.2 ms / p99 162.9 ms; the same medians hand-written p50 133.7 ms / p99 165.7 ms; earlier
# runs (load 4.1 and 3.4): 70.5 / 146.9 ms against 66.3 / 128.8 ms, 73.7 / 122.9 ms against
# 77.1 / 120.9 ms — the same, either way.
def step_medians(
    *, owner: User, since: datetime, per_symbol_agents: frozenset[str]
) -> list[StepMedians]:
    """The owner's median runtime and tokens per completed step since `since`, per agent type
    and engine (per symbol for `per_symbol_agents`)."""
    signal_symbols = F("execution__trigger_detail__symbols")
    pipeline_symbols = F("execution__pipeline__symbols")
    per_symbol = Case(
        When(~Q(agent_type__in=sorted(per_symbol_agents)), then=Value(1.0)),
        When(
            Q(_signal_kind="array", _signal_length__gt=0),
            then=Cast("_signal_length", FloatField()),
        ),
        When(
            _pipeline_kind="array",
            then=Cast(Greatest("_pipeline_length", Value(1)), FloatField()),
        ),
        default=Value(1.0),
        output_field=FloatField(),
    )
    rows = (
        StepRun.objects.filter(
            execution__owner=owner,
            status=StepStatus.COMPLETED,
            duration_ms__isnull=False,
            finished_at__gte=since,
        )
        .annotate(
            _signal_kind=_jsonb_kind(signal_symbols),
            _signal_length=_jsonb_length(signal_symbols),
            _pipeline_kind=_jsonb_kind(pipeline_symbols),
            _pipeline_length=_jsonb_length(pipeline_symbols),
        )
        .annotate(per=per_symbol)
        .order_by()
        .values("agent_type", "engine")
        .annotate(
            steps=Count("pk"),
            duration_ms=Median(F("duration_ms") / F("per")),
            tokens_in=Median(Cast("tokens_in", FloatField()) / F("per")),
            tokens_out=Median(Cast("tokens_out", FloatField()) / F("per")),
        )
    )
    return [StepMedians(**row) for row in rows]


def active_pipeline_ids(*, owner: User) -> list[UUID]:
    return list(
        Pipeline.objects.filter(owner=owner, status=PipelineStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )
