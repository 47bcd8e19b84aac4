"""Cost API (spec §9.3): how accurate past estimates were. Thin: the figures come from
billing.estimates (a pipeline's estimate is pipelines.cost_api's, where graphs are checked)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from billing.estimates import estimate_accuracy

router = Router(tags=["cost"])


class AccuracyFilters(Schema):
    days: int = Field(30, ge=1, le=365)


@router.get("/historical-accuracy", summary="How close estimates came to actual costs")
def cost_historical_accuracy(request: HttpRequest, filters: Query[AccuracyFilters]):
    return estimate_accuracy(owner=request.auth, days=filters.days)
