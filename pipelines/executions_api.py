"""Executions API: start a pipeline's run and list its runs (under /pipelines/{id}/executions),
and your runs across pipelines: list, detail with steps and state, stop (/executions)."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from config.core.pagination import LimitOffsetPagination
from pipelines import selectors, services
from pipelines.models import ExecutionStatus, TriggerSource

# Mounted at /pipelines beside `pipelines.api.router`, under the same tag.
pipeline_executions_router = Router(tags=["pipelines"])
executions_router = Router(tags=["executions"])


class StartIn(Schema):
    symbols: list[str] | None = Field(
        None, max_length=100, description="Run on these symbols instead of the pipeline's."
    )
    skip_trigger: bool = Field(
        False, description="Run now: the trigger nodes pass without checking their condition."
    )


class ExecutionOut(Schema):
    id: UUID
    pipeline_id: UUID
    pipeline_name: str = Field(..., alias="pipeline.name")
    status: str
    trigger_source: str
    trading_mode: str
    current_node: str
    next_check_at: datetime | None
    total_cost: Decimal
    error: str
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None


class StepOut(Schema):
    node_id: str
    agent_type: str
    position: int
    status: str
    engine: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    attempts: int
    tokens_in: int
    tokens_out: int
    agent_cost: Decimal
    token_cost: Decimal
    output_summary: str
    error: str


class ExecutionDetailOut(ExecutionOut):
    steps: list[StepOut]
    state: dict[str, Any]
    report_id: UUID | None

    @staticmethod
    def resolve_state(obj):
        return obj.full_state

    @staticmethod
    def resolve_steps(obj):
        return list(obj.steps.all())

    @staticmethod
    def resolve_report_id(obj):
        reports = list(obj.reports.all())
        return reports[0].pk if reports else None


@pipeline_executions_router.post(
    "/{pipeline_id}/executions",
    response={202: ExecutionOut},
    summary=(
        "Start a run (409 if one is already pending, waiting or running); skip_trigger runs "
        "every agent now"
    ),
)
def pipelines_start(request: HttpRequest, pipeline_id: UUID, payload: StartIn | None = None):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    detail = {}
    if payload and payload.symbols:
        detail["symbols"] = services.normalize_symbols(payload.symbols)
    if payload and payload.skip_trigger:
        detail["skip_trigger"] = True
    source = TriggerSource.API if getattr(request, "api_token", None) else TriggerSource.MANUAL
    execution = services.execution_start(pipeline=pipeline, source=source, detail=detail)
    execution.pipeline = pipeline
    return Status(202, execution)


@pipeline_executions_router.get(
    "/{pipeline_id}/executions", response=list[ExecutionOut], summary="A pipeline's runs"
)
@paginate(LimitOffsetPagination)
def pipelines_executions(request: HttpRequest, pipeline_id: UUID):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    return selectors.executions_for_user(user=request.auth, pipeline_id=pipeline.pk)


class ExecutionFilters(Schema):
    pipeline_id: UUID | None = None
    status: ExecutionStatus | None = None


@executions_router.get("", response=list[ExecutionOut], summary="Your runs, newest first")
@paginate(LimitOffsetPagination)
def executions_list(request: HttpRequest, filters: Query[ExecutionFilters]):
    return selectors.executions_for_user(
        user=request.auth, pipeline_id=filters.pipeline_id, status=filters.status
    )


@executions_router.get(
    "/{execution_id}", response=ExecutionDetailOut, summary="A run with its steps and state"
)
def executions_get(request: HttpRequest, execution_id: UUID):
    return selectors.execution_get(user=request.auth, execution_id=execution_id)


@executions_router.post(
    "/{execution_id}/stop", response=ExecutionOut, summary="Stop a pending, waiting or running run"
)
def executions_stop(request: HttpRequest, execution_id: UUID):
    execution = selectors.execution_get(user=request.auth, execution_id=execution_id)
    services.execution_stop(execution=execution)
    return selectors.execution_get(user=request.auth, execution_id=execution_id)
