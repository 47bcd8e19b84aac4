"""Pipelines API: CRUD, validate, clone, templates, the controls and the trading mode. Their
runs are in `pipelines.executions_api`."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import BaseModel

from config.core.pagination import LimitOffsetPagination
from config.core.throttling import UserThrottle, api_throttles
from pipelines import blueprints, lifecycle, selectors, services
from pipelines.graph import validate_graph
from pipelines.models import TradingMode

router = Router(tags=["pipelines"])

Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]
RunModeName = Literal["run_once", "run_continuous", "run_scheduled", "run_on_signal"]
TestMode = Literal["PAPER", "SIMULATION", "VALIDATION"]


class GraphIssueOut(Schema):
    node_id: str | None
    field: str | None
    msg: str


class PipelineIn(Schema):
    name: str = Field(..., min_length=1, max_length=255)
    description: str = Field("", max_length=5000)
    graph: dict[str, Any]
    symbols: list[str] = Field(default_factory=list, max_length=100)
    primary_timeframe: Timeframe = "5m"
    run_mode: RunModeName = "run_once"
    trading_mode: TestMode = "SIMULATION"
    mode_config: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    schedule: dict[str, Any] | None = None
    daily_budget: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)


class PipelinePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=5000)
    graph: dict[str, Any] | None = None
    symbols: list[str] | None = Field(None, max_length=100)
    primary_timeframe: Timeframe | None = None
    run_mode: RunModeName | None = None
    mode_config: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    daily_budget: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)


class PipelineOut(Schema):
    id: UUID
    name: str
    description: str
    graph: dict[str, Any]
    symbols: list[str]
    primary_timeframe: str
    run_mode: str
    trading_mode: str
    mode_config: dict[str, Any]
    settings: dict[str, Any]
    schedule: dict[str, Any] | None
    signal_subscriptions: list[dict[str, Any]]
    status: str
    status_reason: str
    daily_budget: Decimal | None
    template_key: str
    scanner_id: int | None
    broker_connection_id: int | None
    mode_changed_at: datetime | None
    next_scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_execution_at: datetime | None = None

    @staticmethod
    def resolve_last_execution_at(obj):
        if hasattr(obj, "last_execution_at"):  # annotated by pipelines_for_user
            return obj.last_execution_at
        latest = obj.executions.order_by("-created_at").values_list("created_at", flat=True)
        return latest.first()


class PipelineSavedOut(PipelineOut):
    warnings: list[GraphIssueOut] = Field(default_factory=list)


class ValidateIn(Schema):
    graph: dict[str, Any]


class ValidateOut(Schema):
    ok: bool
    errors: list[GraphIssueOut]
    warnings: list[GraphIssueOut]
    order: list[str]


class CloneIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=255)
    as_live: bool = Field(False, description="Clone into LIVE mode (needs confirmed: true).")
    confirmed: bool = False


class ModeIn(Schema):
    mode: TradingMode
    confirmed: bool = Field(False, description="Required (true) to switch to LIVE.")
    reason: str = Field("", max_length=1000)


class ModeChangeOut(Schema):
    from_mode: str
    to_mode: str
    confirmed: bool
    reason: str
    created_at: datetime


class FromTemplateIn(Schema):
    template_key: str = Field(..., max_length=50)
    name: str | None = Field(None, min_length=1, max_length=255)
    symbols: list[str] | None = Field(None, max_length=100)


class TemplateOut(Schema):
    key: str
    name: str
    description: str
    primary_timeframe: str
    symbols: list[str]
    graph: dict[str, Any]


def _issues(issues) -> list[dict[str, Any]]:
    return [{"node_id": i.node_id, "field": i.field, "msg": i.message} for i in issues]


def _saved(pipeline, check) -> dict[str, Any]:
    data = PipelineOut.from_orm(pipeline).dict()
    data["warnings"] = _issues(check.warnings) if check else []
    return data


class PipelineSummaryOut(BaseModel):
    """A pipeline in the list: without its graph unless asked (`?expand=graph`). A plain
    pydantic model: the rows are dicts (`pipeline_summaries_for_user`), validated in pydantic's
    core at once, without ninja's per-attribute wrapper of ORM objects (a third of the list's
    time at 100 pipelines)."""

    id: UUID
    name: str
    description: str
    symbols: list[str]
    primary_timeframe: str
    run_mode: str
    trading_mode: str
    mode_config: dict[str, Any]
    settings: dict[str, Any]
    schedule: dict[str, Any] | None
    signal_subscriptions: list[dict[str, Any]]
    status: str
    status_reason: str
    daily_budget: Decimal | None
    template_key: str
    scanner_id: int | None
    broker_connection_id: int | None
    mode_changed_at: datetime | None
    next_scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_execution_at: datetime | None
    node_count: int = Field(..., description="How many agents the graph has.")
    graph: dict[str, Any] | None = Field(
        None, description="Only with `?expand=graph` (GET /pipelines/{id} always has it)."
    )


class PipelineListFilters(Schema):
    status: str | None = None
    expand: list[Literal["graph"]] = Field(
        default_factory=list, description="`graph`: include each pipeline's full graph."
    )


@router.get(
    "",
    response=list[PipelineSummaryOut],
    exclude_unset=True,
    summary="Your pipelines (without their graphs unless ?expand=graph), newest change first",
)
@paginate(LimitOffsetPagination)
def pipelines_list(request: HttpRequest, filters: Query[PipelineListFilters]):
    return selectors.pipeline_summaries_for_user(
        user=request.auth, status=filters.status, with_graph="graph" in filters.expand
    )


# §15.3: creating pipelines has a stricter limit of its own (per user), on top of the API's.
_create_throttles = api_throttles(
    UserThrottle(settings.PIPELINE_CREATE_THROTTLE_RATE, scope="pipeline_create")
)


@router.post(
    "",
    response={201: PipelineSavedOut},
    throttle=_create_throttles,
    summary="Create a pipeline",
)
def pipelines_create(request: HttpRequest, payload: PipelineIn):
    data = payload.dict()
    pipeline, check = services.pipeline_create(owner=request.auth, **data)
    return Status(201, _saved(pipeline, check))


@router.post(
    "/validate",
    response=ValidateOut,
    summary="Check a graph without saving it (errors name the node and the field)",
)
def pipelines_validate(request: HttpRequest, payload: ValidateIn):
    check = validate_graph(payload.graph)
    return {
        "ok": check.ok,
        "errors": _issues(check.errors),
        "warnings": _issues(check.warnings),
        "order": check.order,
    }


@router.get("/templates", response=list[TemplateOut], summary="Ready-made pipelines")
def pipelines_templates(request: HttpRequest):
    return [blueprint.as_dict() for blueprint in blueprints.all_blueprints()]


@router.post(
    "/from-template",
    response={201: PipelineSavedOut},
    throttle=_create_throttles,
    summary="Create a pipeline from a template",
)
def pipelines_from_template(request: HttpRequest, payload: FromTemplateIn):
    pipeline, check = blueprints.pipeline_create_from_blueprint(
        owner=request.auth,
        key=payload.template_key,
        name=payload.name,
        symbols=payload.symbols,
    )
    return Status(201, _saved(pipeline, check))


@router.get("/{pipeline_id}", response=PipelineOut, summary="One pipeline")
def pipelines_get(request: HttpRequest, pipeline_id: UUID):
    return selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)


@router.patch("/{pipeline_id}", response=PipelineSavedOut, summary="Change a pipeline")
def pipelines_update(request: HttpRequest, pipeline_id: UUID, payload: PipelinePatch):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    pipeline, check = services.pipeline_update(
        pipeline=pipeline, **payload.dict(exclude_unset=True)
    )
    return _saved(pipeline, check)


@router.put("/{pipeline_id}", response=PipelineSavedOut, summary="Replace a pipeline")
def pipelines_replace(request: HttpRequest, pipeline_id: UUID, payload: PipelineIn):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    data = payload.dict()
    if data["trading_mode"] == pipeline.trading_mode:
        del data["trading_mode"]  # a different mode stays in and is refused by the service
    pipeline, check = services.pipeline_update(pipeline=pipeline, **data)
    return _saved(pipeline, check)


@router.delete("/{pipeline_id}", response={204: None}, summary="Delete a pipeline")
def pipelines_delete(request: HttpRequest, pipeline_id: UUID):
    services.pipeline_delete(
        pipeline=selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    )
    return Status(204, None)


@router.post(
    "/{pipeline_id}/clone",
    throttle=_create_throttles,
    response={201: PipelineOut},
    summary="Copy a pipeline (as_live: a LIVE copy; the original stays as it is)",
)
def pipelines_clone(request: HttpRequest, pipeline_id: UUID, payload: CloneIn | None = None):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    payload = payload or CloneIn()
    if payload.as_live:
        clone = services.pipeline_clone_as_live(
            pipeline=pipeline,
            changed_by=request.auth,
            confirmed=payload.confirmed,
            name=payload.name,
        )
    else:
        clone = services.pipeline_clone(pipeline=pipeline, name=payload.name)
    return Status(201, clone)


@router.post(
    "/{pipeline_id}/activate",
    response=PipelineOut,
    summary=(
        "Turn the pipeline on (schedules armed; continuous pipelines start their first cycle; "
        "on-signal pipelines wait for signals; a run-once pipeline runs once)"
    ),
)
def pipelines_activate(request: HttpRequest, pipeline_id: UUID):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    lifecycle.pipeline_activate(pipeline=pipeline)
    return selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)


@router.post(
    "/{pipeline_id}/pause",
    response=PipelineOut,
    summary="No new runs (a run in progress finishes)",
)
def pipelines_pause(request: HttpRequest, pipeline_id: UUID):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    lifecycle.pipeline_pause(pipeline=pipeline)
    return selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)


@router.post(
    "/{pipeline_id}/stop",
    response=PipelineOut,
    summary="No new runs, and the run in progress is cancelled",
)
def pipelines_stop(request: HttpRequest, pipeline_id: UUID):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    lifecycle.pipeline_stop(pipeline=pipeline, reason="Stopped by the user.")
    return selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)


@router.patch(
    "/{pipeline_id}/mode",
    response=PipelineOut,
    summary="Switch the trading mode (LIVE needs confirmation, prerequisites, a verified broker)",
)
def pipelines_mode(request: HttpRequest, pipeline_id: UUID, payload: ModeIn):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    return services.pipeline_mode_change(
        pipeline=pipeline,
        changed_by=request.auth,
        mode=payload.mode,
        confirmed=payload.confirmed,
        reason=payload.reason,
    )


@router.get(
    "/{pipeline_id}/mode-changes",
    response=list[ModeChangeOut],
    summary="The audit of a pipeline's trading-mode switches",
)
@paginate(LimitOffsetPagination)
def pipelines_mode_changes(request: HttpRequest, pipeline_id: UUID):
    pipeline = selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    return pipeline.mode_changes.order_by("-created_at", "id")
