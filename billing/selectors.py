"""Billing reads: spend per day and month, the plan that applies, and the costs page's
figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_today
from billing import hooks
from billing.models import CostEntry, Subscription, SubscriptionStatus
from billing.plans import TIERS, Plan, plan
from config.core.db import fetch_one_prepared

# Every run's budget gate asks this: one fixed, prepared statement over the owner's month of
# DailyCost rows (a few dozen), not an ORM aggregate compiled each time. bench/bench_persistence.py,
# 1000 reads each, back to back (2026-12-02, load average 2.8 on 2 cores): this statement p50
# 0.07 ms / p99 0.20 ms; the same three sums as an ORM aggregate p50 1.55 ms / p99 2.05 ms.
_SPEND_SQL = """
SELECT COALESCE(SUM(total_cost), 0),
       COALESCE(SUM(total_cost) FILTER (WHERE day = %(today)s), 0),
       COALESCE(SUM(total_cost) FILTER (WHERE day = %(today)s AND pipeline_id = %(pipeline_id)s), 0)
  FROM billing_dailycost
 WHERE owner_id = %(owner_id)s AND day >= %(month_start)s
"""


def spend_summary(
    *, owner: User, pipeline_id: UUID | None = None, at: datetime | None = None
) -> dict[str, Decimal]:
    """Spend today (or on the day of `at`) and this month (the owner's local calendar), overall
    and for one pipeline."""
    today = user_today(owner, at=at)
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


@dataclass(frozen=True)
class EffectivePlan:
    """The plan that decides a user's limits, and why (shown once per page)."""

    plan: Plan
    enforced: bool
    own_tier: str
    explanation: str

    @property
    def tier(self) -> str:
        return self.plan.tier


def tier_in_force(
    *,
    own_tier: str | None,
    status: str | None,
    grace_until: datetime | None,
    now: datetime | None = None,
) -> str:
    """The one rule for which tier applies, from what is stored (the user's tier, their
    subscription's status and grace period): DEFAULT_SUBSCRIPTION_TIER for everyone when
    ENFORCE_SUBSCRIPTION_LIMITS is off; otherwise the user's own, except Free once a failed
    payment's grace period has run out. Every tier check goes through here — effective_plan
    for a user, and the signal dispatcher for the rows it indexes."""
    from django.conf import settings

    from billing.models import SubscriptionStatus

    if not settings.ENFORCE_SUBSCRIPTION_LIMITS:
        own_tier = settings.DEFAULT_SUBSCRIPTION_TIER
    elif (
        status == SubscriptionStatus.PAST_DUE
        and grace_until is not None
        and grace_until < (now or timezone.now())
    ):
        return "FREE"
    tier = str(own_tier or "FREE").upper()
    return tier if tier in TIERS else "FREE"


def effective_plan(*, user: User, now: datetime | None = None) -> EffectivePlan:
    """The one answer to "which plan applies" for a user (tier_in_force), and why."""
    own = str(user.subscription_tier or "FREE").upper()
    subscription = (
        Subscription.objects.filter(owner=user).first()
        if settings.ENFORCE_SUBSCRIPTION_LIMITS
        else None
    )
    status = subscription.status if subscription is not None else None
    tier = tier_in_force(
        own_tier=own,
        status=status,
        grace_until=subscription.grace_until if subscription is not None else None,
        now=now,
    )
    current = plan(tier)
    if not settings.ENFORCE_SUBSCRIPTION_LIMITS:
        explanation = (
            f"Subscription limits are not enforced on this installation, so every account "
            f"has the {current.name} plan."
        )
        return EffectivePlan(plan=current, enforced=False, own_tier=own, explanation=explanation)
    if status == SubscriptionStatus.PAST_DUE and tier != plan(own).tier:
        explanation = (
            f"The last payment failed and the grace period ended: the {own.title()} plan "
            "is suspended until the card is updated."
        )
    else:
        explanation = f"You are on the {current.name} plan."
        if status == SubscriptionStatus.PAST_DUE:
            explanation += (
                " The last payment failed: update your card before the grace period ends."
            )
    return EffectivePlan(plan=current, enforced=True, own_tier=own, explanation=explanation)


def active_pipelines_count(*, user: User) -> int:
    """How many of the user's pipelines are active (the plan's limit counts them)."""
    return len(hooks.active_pipeline_ids(owner=user))


# --- For the costs page (analytics): spend history and the estimator's accuracy ----------------


def daily_spend(*, owner: User, start, end) -> list[dict]:
    """The owner's spend per local day from `start` to `end` (inclusive), all pipelines."""
    from django.db.models import Sum

    from billing.models import DailyCost

    rows = (
        DailyCost.objects.filter(owner=owner, day__gte=start, day__lte=end)
        .values("day")
        .annotate(total=Sum("total_cost"))
        .order_by("day")
    )
    return [{"day": row["day"], "total": row["total"]} for row in rows]


def spend_by_agent(*, owner: User, since: datetime) -> list[dict]:
    """The owner's ledger since `since` per agent type and kind of charge (runtime, tokens)."""
    from django.db.models import Sum

    rows = (
        CostEntry.objects.filter(owner=owner, created_at__gte=since)
        .order_by()
        .values("agent_type", "cost_type")
        .annotate(total=Sum("total_cost"), quantity=Sum("quantity"))
        .order_by("-total")
    )
    return list(rows)


def estimates_accuracy(*, owner: User, days: int = 30) -> dict:
    """How close the estimates runs were admitted with came to what they cost (MAPE overall and
    per agent type) — what GET /api/v1/cost/historical-accuracy answers."""
    from billing.estimates import estimate_accuracy

    return estimate_accuracy(owner=owner, days=days)


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
