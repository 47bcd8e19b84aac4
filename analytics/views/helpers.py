"""What the analytics views share: the scope a query string asks for (bad input falls back
with a note), the trade filters, the `?pipeline=` parameter and the share of a budget spent."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import Http404

from analytics import selectors
from pipelines.models import Pipeline


def scope_or_default(request, *, pipeline_ids=()) -> tuple[selectors.Scope, list[str]]:
    """The scope the query string asks for; bad input falls back to the defaults with a note
    naming the field (pages never 500 on a hand-edited URL)."""
    params = request.GET
    try:
        scope = selectors.scope_for(
            user=request.user,
            period=params.get("period"),
            start=params.get("start"),
            end=params.get("end"),
            mode=params.get("mode"),
            pipeline_ids=pipeline_ids,
        )
        return scope, []
    except ValidationError as error:
        problems = [f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items()]
        return selectors.scope_for(user=request.user, pipeline_ids=pipeline_ids), problems


def trade_filters(request) -> dict[str, str]:
    """The trades table's filters the query string sets (symbol, side, close reason, pipeline)."""
    return {
        key: request.GET.get(key, "").strip()
        for key in ("symbol", "side", "close_reason", "pipeline_id")
        if request.GET.get(key, "").strip()
    }


def pipeline_param(request) -> list[str]:
    """The `?pipeline=` an export is narrowed to: one of the user's pipelines, else 404."""
    raw = request.GET.get("pipeline")
    if not raw:
        return []
    try:
        return selectors.validate_pipeline_ids(request.user, [raw])
    except (ValidationError, Pipeline.DoesNotExist):
        raise Http404("No such pipeline.") from None


def _budget_share(spent: Decimal, limit: Decimal | None) -> int | None:
    if not limit:
        return None
    return min(100, int(spent / limit * 100))


def budget_shares(user, spend: dict) -> dict[str, int | None]:
    """How much of the user's daily and monthly budgets `spend` (billing's spend summary) has
    used, in percent capped at 100; None for a budget not set."""
    return {
        "daily_share": _budget_share(spend["today"], user.budget_limit_daily),
        "monthly_share": _budget_share(spend["month"], user.budget_limit_monthly),
    }
