"""Custom strategies API: a trader's own strategies (/custom-agents) and the staff review queue
(/admin/custom-agents). Thin: parse, call a service or selector, shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Router, Schema, Status

from agents.custom import selectors, services
from agents.custom.services import REVIEW_PERMISSION, CustomStrategyError
from agents.models import CustomStrategy

router = Router(tags=["custom strategies"])
admin_router = Router(tags=["custom strategies: review"])


class StrategyOut(Schema):
    id: UUID
    lineage: UUID
    version: int
    name: str
    description: str
    code: str
    code_hash: str
    status: str
    generated: bool
    params: dict[str, Any]
    indicators: list[str]
    timeframes: list[str]
    static_analysis_result: dict[str, Any] | None
    llm_security_review: dict[str, Any] | None
    dry_run_result: dict[str, Any] | None
    rejection_reasons: list[str]
    review_comment: str
    reviewed_at: datetime | None
    usage_count: int
    success_count: int
    error_count: int
    created_at: datetime


class PendingOut(StrategyOut):
    owner_email: str

    @staticmethod
    def resolve_owner_email(obj: CustomStrategy) -> str:
        return obj.owner.email


class StrategyIn(Schema):
    name: str
    description: str
    code: str = ""
    generate: bool = False


class StrategyPatch(Schema):
    name: str | None = None
    description: str | None = None
    code: str | None = None


class RunOut(Schema):
    id: int
    version: int
    code_hash: str
    pipeline_id: UUID | None
    execution_id: UUID | None
    symbol: str
    evaluations: int
    duration_ms: float
    peak_memory_bytes: int
    result: str
    success: bool
    error: str
    is_anomaly: bool
    anomaly_reason: str
    created_at: datetime


class DecisionIn(Schema):
    code_hash: str
    comment: str = ""


class ErrorOut(Schema):
    detail: list[dict[str, Any]]


def _invalid(error: CustomStrategyError) -> Status:
    return Status(
        422, {"detail": [{"loc": ["body", error.field or "strategy"], "msg": error.message}]}
    )


@router.get("", response=list[StrategyOut], summary="Your custom strategies, every version")
def custom_agents_list(request: HttpRequest):
    return list(selectors.strategies_for_user(user=request.user))


@router.post(
    "",
    response={201: StrategyOut, 422: ErrorOut},
    summary="Create a strategy from English (generate=true) or from your own code",
)
def custom_agents_create(request: HttpRequest, payload: StrategyIn):
    try:
        strategy = services.strategy_create(owner=request.user, **payload.dict())
    except CustomStrategyError as error:
        return _invalid(error)
    return Status(201, strategy)


@router.get("/{strategy_id}", response=StrategyOut, summary="One of your strategies")
def custom_agents_get(request: HttpRequest, strategy_id: UUID):
    return selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)


@router.patch(
    "/{strategy_id}",
    response={200: StrategyOut, 201: StrategyOut, 422: ErrorOut},
    summary="Edit (a reviewed version gets a new version, which needs approval again)",
)
def custom_agents_update(request: HttpRequest, strategy_id: UUID, payload: StrategyPatch):
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    try:
        updated = services.strategy_update(strategy=strategy, **payload.dict())
    except CustomStrategyError as error:
        return _invalid(error)
    return Status(201 if updated.pk != strategy.pk else 200, updated)


@router.post(
    "/{strategy_id}/submit",
    response={200: StrategyOut, 422: ErrorOut},
    summary="Run the automated review (static, model, dry run); passing it queues for approval",
)
def custom_agents_submit(request: HttpRequest, strategy_id: UUID):
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    try:
        return services.strategy_submit(strategy=strategy)
    except CustomStrategyError as error:
        return _invalid(error)


@router.post("/{strategy_id}/archive", response=StrategyOut, summary="Retire a version")
def custom_agents_archive(request: HttpRequest, strategy_id: UUID):
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    return services.strategy_archive(strategy=strategy)


@router.get("/{strategy_id}/runs", response=list[RunOut], summary="The run audit")
def custom_agents_runs(request: HttpRequest, strategy_id: UUID):
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    return selectors.strategy_runs(strategy=strategy)


# --- staff: the review queue -------------------------------------------------------------------


def _reviewer(request: HttpRequest):
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm(REVIEW_PERMISSION)):
        raise PermissionDenied("Only staff allowed to review custom strategies may do this.")
    return user


@admin_router.get("/pending", response=list[PendingOut], summary="Strategies awaiting review")
def custom_agents_pending(request: HttpRequest):
    _reviewer(request)
    return list(selectors.strategies_pending_review())


@admin_router.post(
    "/{strategy_id}/approve",
    response={200: StrategyOut, 422: ErrorOut},
    summary="Approve the exact code you reviewed (send its code_hash)",
)
def custom_agents_approve(request: HttpRequest, strategy_id: UUID, payload: DecisionIn):
    reviewer = _reviewer(request)
    try:
        return services.strategy_approve(
            strategy_id=strategy_id, reviewer=reviewer, **payload.dict()
        )
    except CustomStrategyError as error:
        return _invalid(error)


@admin_router.post(
    "/{strategy_id}/reject",
    response={200: StrategyOut, 422: ErrorOut},
    summary="Reject with a comment (required) the owner is shown",
)
def custom_agents_reject(request: HttpRequest, strategy_id: UUID, payload: DecisionIn):
    reviewer = _reviewer(request)
    try:
        return services.strategy_reject(
            strategy_id=strategy_id, reviewer=reviewer, **payload.dict()
        )
    except CustomStrategyError as error:
        return _invalid(error)
