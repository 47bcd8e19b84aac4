"""Billing reads: spend per day and month, and an owner's average agent runtimes."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from django.db.models import Avg

from accounts.models import User
from billing.models import CostEntry, CostType
from billing.services import owner_local_day
from config.db import fetch_one_prepared

# Every run's budget gate asks this: one fixed, prepared statement over the owner's month of
# DailyCost rows (a few dozen), not an ORM aggregate compiled each time.
_SPEND_SQL = """
SELECT COALESCE(SUM(total_cost), 0),
       COALESCE(SUM(total_cost) FILTER (WHERE day = %(today)s), 0),
       COALESCE(SUM(total_cost) FILTER (WHERE day = %(today)s AND pipeline_id = %(pipeline_id)s), 0)
  FROM billing_dailycost
 WHERE owner_id = %(owner_id)s AND day >= %(month_start)s
"""


def spend_summary(*, owner: User, pipeline_id: UUID | None = None) -> dict[str, Decimal]:
    """Spend today and this month (the owner's local calendar), overall and for one pipeline."""
    today = owner_local_day(owner=owner)
    month, day, pipeline_day = fetch_one_prepared(
        _SPEND_SQL,
        {
            "today": today,
            "pipeline_id": pipeline_id,
            "owner_id": owner.pk,
            "month_start": today.replace(day=1),
        },
    )
    return {"month": month, "today": day, "pipeline_today": pipeline_day}


def average_runtime_seconds(*, owner: User) -> dict[str, float]:
    """Average runtime per agent type from this owner's recent paid steps."""
    rows = (
        CostEntry.objects.filter(owner=owner, cost_type=CostType.AGENT_RENTAL)
        .order_by()
        .values("agent_type")
        .annotate(avg=Avg("quantity"))
    )
    return {row["agent_type"]: float(row["avg"]) for row in rows}


# --- Reads for analytics: spend over a scope and a period, and the ledger grouped -----------


def _ledger(*, owner: User, start=None, end=None, pipeline_ids=None, execution_ids=None):
    entries = CostEntry.objects.filter(owner=owner).order_by()
    if start is not None:
        entries = entries.filter(created_at__gte=start)
    if end is not None:
        entries = entries.filter(created_at__lt=end)
    if pipeline_ids:
        entries = entries.filter(pipeline_id__in=pipeline_ids)
    if execution_ids is not None:
        entries = entries.filter(execution_id__in=execution_ids)
    return entries


def spend_between(
    *, owner: User, start=None, end=None, pipeline_ids=None, execution_ids=None
) -> Decimal:
    """What the ledger charged the owner in [start, end): for some pipelines, and for the runs
    `execution_ids` names (a subquery, so the spend of one trading mode is one query)."""
    from django.db.models import Sum

    total = _ledger(
        owner=owner,
        start=start,
        end=end,
        pipeline_ids=pipeline_ids,
        execution_ids=execution_ids,
    ).aggregate(total=Sum("total_cost"))["total"]
    return total or Decimal("0")


def ledger_entries(*, owner: User, start=None, end=None, pipeline_ids=None):
    """The owner's cost entries in [start, end), oldest first (for listings and CSV)."""
    return _ledger(owner=owner, start=start, end=end, pipeline_ids=pipeline_ids).order_by(
        "created_at", "pk"
    )
