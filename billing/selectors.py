"""Billing reads: spend per day and month, and an owner's average agent runtimes."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db.models import Avg

from accounts.models import User
from billing.models import CostEntry, CostType, DailyCost
from billing.services import owner_local_day


def spend_summary(*, owner: User, pipeline_id: UUID | None = None) -> dict[str, Decimal]:
    """Spend today and this month (the owner's local calendar), overall and for one pipeline.

    Every run's budget gate asks this, so it is one fixed statement over the owner's
    month of DailyCost rows (a few dozen), not an ORM aggregate compiled each time."""
    today = owner_local_day(owner=owner)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COALESCE(SUM(total_cost), 0),
                   COALESCE(SUM(total_cost) FILTER (WHERE day = %s), 0),
                   COALESCE(SUM(total_cost) FILTER (WHERE day = %s AND pipeline_id = %s), 0)
              FROM {DailyCost._meta.db_table}
             WHERE owner_id = %s AND day >= %s
            """,  # noqa: S608 - the table name is ours; values are parameters
            [today, today, pipeline_id, owner.pk, today.replace(day=1)],
        )
        month, day, pipeline_day = cursor.fetchone()
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
