"""Billing reads: spend per day and month, and an owner's average agent runtimes."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from django.db.models import Avg, Q, Sum

from accounts.models import User
from billing.models import CostEntry, CostType, DailyCost
from billing.services import owner_local_day


def spend_summary(*, owner: User, pipeline_id: UUID | None = None) -> dict[str, Decimal]:
    """Spend today and this month (the owner's local calendar), overall and for one pipeline."""
    today = owner_local_day(owner=owner)
    month_start = today.replace(day=1)
    totals = DailyCost.objects.filter(owner=owner, day__gte=month_start).aggregate(
        month=Sum("total_cost"),
        today=Sum("total_cost", filter=Q(day=today)),
        pipeline_today=Sum("total_cost", filter=Q(day=today, pipeline_id=pipeline_id))
        if pipeline_id
        else Sum("total_cost", filter=Q(pk__in=[])),
    )
    return {key: value or Decimal("0") for key, value in totals.items()}


def average_runtime_seconds(*, owner: User) -> dict[str, float]:
    """Average runtime per agent type from this owner's recent paid steps."""
    rows = (
        CostEntry.objects.filter(owner=owner, cost_type=CostType.AGENT_RENTAL)
        .order_by()
        .values("agent_type")
        .annotate(avg=Avg("quantity"))
    )
    return {row["agent_type"]: float(row["avg"]) for row in rows}
