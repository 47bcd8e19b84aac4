"""Cost API for pipelines (spec §9.3): what an unsaved graph or a saved pipeline will cost.
Thin: the figures come from billing.estimates (below pipelines); the graph, run mode and
schedule are checked here, where their rules live."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema

from agents.llm.config import UnpricedModel
from billing.estimates import cost_estimate
from pipelines import selectors as pipeline_selectors
from pipelines.models import RunMode
from pipelines.schedules import schedule_validate

router = Router(tags=["cost"])


class EstimateIn(Schema):
    graph: dict[str, Any]
    run_mode: str = RunMode.RUN_ONCE
    schedule: dict[str, Any] | None = None
    symbols: list[str] = Field(default_factory=list, max_length=500)


def _estimate(request: HttpRequest, **kwargs) -> dict[str, Any]:
    try:
        return cost_estimate(owner=request.auth, **kwargs)
    except UnpricedModel as error:
        raise ValidationError({"graph": [str(error)]}) from None


@router.post("/estimate-cost", summary="Estimate what an unsaved graph will cost")
def pipelines_estimate_cost(request: HttpRequest, payload: EstimateIn):
    if payload.run_mode not in RunMode.values:
        raise ValidationError({"run_mode": [f"must be one of {', '.join(RunMode.values)}"]})
    if not isinstance(payload.graph.get("nodes", []), list):
        raise ValidationError({"graph.nodes": ["must be a list of nodes"]})
    return _estimate(
        request,
        graph=payload.graph,
        run_mode=payload.run_mode,
        schedule=schedule_validate(payload.schedule),
        symbol_count=max(1, len(payload.symbols)),
    )


@router.get("/{pipeline_id}/cost-estimate", summary="Estimate what a pipeline costs")
def pipelines_cost_estimate(request: HttpRequest, pipeline_id: UUID):
    pipeline = pipeline_selectors.pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    return _estimate(
        request,
        graph=pipeline.graph,
        run_mode=pipeline.run_mode,
        schedule=pipeline.schedule,
        symbol_count=max(1, len(pipeline.symbols or [])),
        pipeline_daily_limit=pipeline.daily_budget,
    )
