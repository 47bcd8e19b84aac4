"""Budget reservations: a run sets aside its estimated cost before paid agents work.

Checking "spent + estimate ≤ limit" and then spending is a race: runs started together (by the
same trigger, the normal case) all read the same spend and all pass. So the check and the
reservation happen together under a transaction-scoped advisory lock on the owner, and the
check counts what other runs in flight have reserved and not yet spent. A run reserves again
when it resumes from waiting for its trigger (its reservation was released while it waited)
and whenever its spend reaches what it reserved (before its next paid step), so N concurrent
runs never exceed a limit by more than one step's cost.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from agents.context import BudgetStatus, budget_refusal
from agents.errors import BudgetExceeded
from billing.models import BudgetReservation, ReservationStatus
from billing.selectors import held_summary, spend_summary
from billing.services import owner_local_day

# The first key of the two-key advisory lock: budgets (the second is the owner's id).
BUDGET_LOCK_NAMESPACE = 19_001


class BudgetExhausted(BudgetExceeded):
    """The owner's or the pipeline's budget has no room for the run: the pipeline pauses."""


def budget_reserve(
    *,
    owner: User,
    pipeline_id: UUID | None,
    pipeline_daily_limit: Decimal | None,
    execution_id: UUID,
    remaining_estimate: Decimal,
    spent_by_run: Decimal = Decimal(0),
    unrecorded: Decimal = Decimal(0),
    at: datetime | None = None,
) -> BudgetStatus:
    """Reserve `remaining_estimate` more for the run (its total reservation becomes
    `spent_by_run` + that), or raise BudgetExhausted naming the limit without room. Atomic
    against every other run of the same owner. `unrecorded`: what the run has spent that is not
    on the ledger yet (a finished step is written with the next step's start). Returns the spend (with other runs'
    reservations) it was checked against."""
    remaining_estimate = max(Decimal(remaining_estimate), Decimal(0))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [BUDGET_LOCK_NAMESPACE, int(owner.pk)]
            )
        spend = spend_summary(owner=owner, pipeline_id=pipeline_id, at=at)
        held = held_summary(
            owner=owner, pipeline_id=pipeline_id, exclude_execution=execution_id, at=at
        )
        status = BudgetStatus(
            user_daily_limit=owner.budget_limit_daily,
            user_monthly_limit=owner.budget_limit_monthly,
            pipeline_daily_limit=pipeline_daily_limit,
            spent_today=spend["today"] + held["today"] + unrecorded,
            spent_this_month=spend["month"] + held["month"] + unrecorded,
            pipeline_spent_today=spend["pipeline_today"] + held["pipeline_today"] + unrecorded,
        )
        refusal = budget_refusal(status, remaining_estimate)
        if refusal:
            raise BudgetExhausted(refusal)
        BudgetReservation.objects.update_or_create(
            execution_id=execution_id,
            defaults={
                "owner": owner,
                "pipeline_id": pipeline_id,
                "day": owner_local_day(owner=owner, at=at),
                "amount": spent_by_run + remaining_estimate,
                "status": ReservationStatus.HELD,
            },
        )
    return status


def reservation_end(*, execution_id: UUID, status: str = ReservationStatus.SETTLED) -> None:
    """The run ended (settled: its ledger rows now count instead) or waits (released)."""
    BudgetReservation.objects.filter(
        execution_id=execution_id, status=ReservationStatus.HELD
    ).update(status=status, updated_at=timezone.now())


# The end of a successful run settles its reservation in the run's final statement.
SETTLE_CTE = """, settled AS (
    UPDATE billing_budgetreservation
       SET status = 'settled', updated_at = %(now)s
     WHERE execution_id = %(execution_id)s AND status = 'held' AND EXISTS (SELECT 1 FROM lease)
)
"""
