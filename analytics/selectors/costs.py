"""What a scope's agents and models cost: the ledger over its period grouped per day, pipeline,
agent and model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate

from analytics.selectors.scope import Scope
from billing.selectors import ledger_entries
from pipelines.selectors import pipeline_capitals_for_user


def cost_breakdown(scope: Scope) -> dict[str, Any]:
    """The ledger over the scope's period grouped in PostgreSQL: per day (the trader's zone),
    per pipeline, per agent and per model — four grouped queries whatever the ledger's size."""
    entries = ledger_entries(
        owner=scope.user, start=scope.start, end=scope.end, pipeline_ids=scope.pipeline_ids or None
    ).order_by()
    total = Sum("total_cost")
    per_day = list(
        entries.annotate(day=TruncDate("created_at", tzinfo=scope.zone))
        .values("day")
        .annotate(total=total, count=Count("pk"))
        .order_by("-day")
    )
    per_pipeline = list(
        entries.values("pipeline_id").annotate(total=total, count=Count("pk")).order_by("-total")
    )
    per_agent = list(
        entries.values("agent_type").annotate(total=total, count=Count("pk")).order_by("-total")
    )
    per_model = list(
        entries.exclude(metadata__model=None)
        .annotate(model=KT("metadata__model"))
        .exclude(model="")
        .values("model")
        .annotate(total=total, count=Count("pk"))
        .order_by("-total")
    )
    names = {str(p["id"]): p["name"] for p in pipeline_capitals_for_user(user=scope.user)}
    for row in per_pipeline:
        key = str(row["pipeline_id"]) if row["pipeline_id"] else ""
        row["name"] = names.get(key, "Deleted pipeline" if key else "No pipeline")
    widest = max((row["total"] for row in per_day), default=Decimal("0"))
    for row in per_day:
        row["width"] = int(row["total"] / widest * 100) if widest else 0
    return {
        "cost_total": sum((row["total"] for row in per_day), Decimal("0")),
        "per_day": per_day,
        "per_pipeline": per_pipeline,
        "per_agent": per_agent,
        "per_model": per_model,
    }
