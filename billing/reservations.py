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

import functools
import json
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import psycopg
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_today
from agents.context import BudgetStatus, budget_refusal
from agents.errors import BudgetExceeded
from billing.hooks import runs_sql
from billing.models import BudgetReservation, ReservationStatus
from config.core.db import fetch_one_prepared

# The first key of the two-key advisory lock: budgets (the second is the owner's id).
BUDGET_LOCK_NAMESPACE = 19_001


class BudgetExhausted(BudgetExceeded):
    """The owner's or the pipeline's budget has no room for the run: the pipeline pauses."""


# Taken first, in its own statement (a statement's snapshot is fixed when it starts, so the
# reads must come after the lock is held). Like the engine's checkpoints, the reservation
# commits without waiting for its WAL flush: a database crash that loses it also loses the
# run's later checkpoints, and the replayed run reserves again.
_LOCK_SQL = """
SELECT pg_advisory_xact_lock(%(namespace)s, %(owner_id)s),
       set_config('synchronous_commit', 'off', true)
"""

# The check and the reservation in one statement: spend on the ledger's roll-up, plus what
# other runs in flight hold and have not spent, plus what this run spent that is not on the
# ledger yet; the reservation is written only if every limit has room. The runs are the
# pipelines app's: `runs_in_flight` is the SQL it answers with (billing.hooks.runs_sql: the runs
# pending or running, so a reservation whose run crashed before settling stops counting).
# bench/bench_persistence.py, 1000 reservations each, back to back (2026-12-02, load average
# 2.7 on 2 cores, the runs' SQL joined as a subquery): the lock and this statement in one
# pipelined round trip p50 0.37 ms / p99 2.1 ms; the lock, two aggregates and an upsert through
# the ORM p50 8.00 ms / p99 20.4 ms (at load 9.5: 0.51 / 8.4 ms against 21.6 / 60.8 ms; before,
# with the table joined by name, at load 5.1: 0.30 / 3.3 ms against 5.70 / 15.1 ms).
_RESERVE_SQL = """
WITH spend AS (
    SELECT COALESCE(SUM(total_cost), 0) AS month,
           COALESCE(SUM(total_cost) FILTER (WHERE day = %(today)s), 0) AS today,
           COALESCE(SUM(total_cost)
                    FILTER (WHERE day = %(today)s AND pipeline_id = %(pipeline_id)s), 0) AS pipe
      FROM billing_dailycost
     WHERE owner_id = %(owner_id)s AND day >= %(month_start)s
), held AS (
    SELECT COALESCE(SUM(GREATEST(r.amount - e.total_cost, 0)), 0) AS month,
           COALESCE(SUM(GREATEST(r.amount - e.total_cost, 0))
                    FILTER (WHERE r.day = %(today)s), 0) AS today,
           COALESCE(SUM(GREATEST(r.amount - e.total_cost, 0))
                    FILTER (WHERE r.day = %(today)s AND r.pipeline_id = %(pipeline_id)s), 0) AS pipe
      FROM billing_budgetreservation r
      JOIN ({runs_in_flight}) e ON e.id = r.execution_id
     WHERE r.owner_id = %(owner_id)s AND r.status = '{held}'
       AND r.day >= %(month_start)s AND r.execution_id <> %(execution_id)s
), figures AS (
    SELECT spend.month + held.month + %(unrecorded)s AS month,
           spend.today + held.today + %(unrecorded)s AS today,
           spend.pipe + held.pipe + %(unrecorded)s AS pipe
      FROM spend, held
), reserved AS (
    INSERT INTO billing_budgetreservation (
        owner_id, pipeline_id, execution_id, day, amount, status, estimated_cost,
        estimated_by_agent, created_at, updated_at
    )
    SELECT %(owner_id)s, %(pipeline_id)s, %(execution_id)s, %(today)s, %(amount)s,
           '{held}', %(estimated_cost)s, %(estimated_by_agent)s::jsonb, %(now)s, %(now)s
      FROM figures
     WHERE (%(daily_limit)s::numeric IS NULL OR figures.today + %(needed)s <= %(daily_limit)s)
       AND (%(monthly_limit)s::numeric IS NULL
            OR figures.month + %(needed)s <= %(monthly_limit)s)
       AND (%(pipeline_limit)s::numeric IS NULL
            OR figures.pipe + %(needed)s <= %(pipeline_limit)s)
    ON CONFLICT (execution_id) DO UPDATE
       SET amount = EXCLUDED.amount, status = '{held}', day = EXCLUDED.day,
           updated_at = EXCLUDED.updated_at,
           estimated_cost = COALESCE(billing_budgetreservation.estimated_cost,
                                     EXCLUDED.estimated_cost),
           estimated_by_agent = CASE WHEN billing_budgetreservation.estimated_cost IS NULL
                                     THEN EXCLUDED.estimated_by_agent
                                     ELSE billing_budgetreservation.estimated_by_agent END
    RETURNING 1
)
SELECT figures.month, figures.today, figures.pipe, EXISTS (SELECT 1 FROM reserved)
  FROM figures
"""


@functools.cache
def _reserve_sql() -> str:
    """_RESERVE_SQL with the runs' SQL the pipelines app answers with, composed once: the
    same text every time, so it stays one prepared statement."""
    return _RESERVE_SQL.format(runs_in_flight=runs_sql().in_flight, held=ReservationStatus.HELD)


def _lock_and_reserve(lock_params: dict, params: dict) -> tuple:
    """The lock, the check-and-reserve and the commit. Outside a transaction they go to the
    server in one round trip (a psycopg pipeline: the statements still run one after the
    other, each with its own snapshot); inside a caller's transaction, as two statements in
    it."""
    if connection.in_atomic_block:
        fetch_one_prepared(_LOCK_SQL, lock_params)
        return fetch_one_prepared(_reserve_sql(), params)
    connection.ensure_connection()
    conn = connection.connection
    with (
        connection.wrap_database_errors,
        psycopg.Cursor(conn) as control,
        psycopg.Cursor(conn) as cursor,
    ):
        try:
            with conn.pipeline():
                control.execute("BEGIN")
                control.execute(_LOCK_SQL, lock_params, prepare=True)
                cursor.execute(_reserve_sql(), params, prepare=True)
                control.execute("COMMIT")
        except psycopg.Error:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            raise
        return cursor.fetchone()


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
    estimated_by_agent: dict[str, Decimal] | None = None,
) -> BudgetStatus:
    """Reserve `remaining_estimate` more for the run (its total reservation becomes
    `spent_by_run` + that), or raise BudgetExhausted naming the limit without room. Atomic
    against every other run of the same owner. `unrecorded`: what the run has spent that is not
    on the ledger yet (a finished step is written with the next step's start). Returns the
    spend (with other runs' reservations) it was checked against."""
    needed = max(Decimal(remaining_estimate), Decimal(0))
    today = user_today(owner, at=at)
    month, day, pipeline_day, reserved = _lock_and_reserve(
        {"namespace": BUDGET_LOCK_NAMESPACE, "owner_id": owner.pk},
        {
            "today": today,
            "month_start": today.replace(day=1),
            "owner_id": owner.pk,
            "pipeline_id": pipeline_id,
            "execution_id": execution_id,
            "unrecorded": unrecorded,
            "needed": needed,
            "amount": spent_by_run + needed,
            "now": timezone.now(),
            "daily_limit": owner.budget_limit_daily,
            "monthly_limit": owner.budget_limit_monthly,
            "pipeline_limit": pipeline_daily_limit,
            # The run's first reservation records the estimate it was admitted with.
            "estimated_cost": needed if estimated_by_agent is not None else None,
            "estimated_by_agent": json.dumps(
                {agent: str(cost) for agent, cost in (estimated_by_agent or {}).items()}
            ),
        },
    )
    status = BudgetStatus(
        user_daily_limit=owner.budget_limit_daily,
        user_monthly_limit=owner.budget_limit_monthly,
        pipeline_daily_limit=pipeline_daily_limit,
        spent_today=day,
        spent_this_month=month,
        pipeline_spent_today=pipeline_day,
    )
    if not reserved:
        raise BudgetExhausted(
            budget_refusal(status, needed) or "Budget: no room left for this run."
        )
    return status


def reservation_end(*, execution_id: UUID, status: str = ReservationStatus.SETTLED) -> None:
    """The run ended (settled: its ledger rows now count instead) or waits (released)."""
    BudgetReservation.objects.filter(
        execution_id=execution_id, status=ReservationStatus.HELD
    ).update(status=status, updated_at=timezone.now())


def settle_cte(*, only_if: str) -> str:
    """The end of a successful run settles its reservation in the run's final statement: a
    `settled AS (…)` CTE (parameters `now`, `execution_id`) that writes only when the
    statement's CTE named `only_if` yields a row (the engine's `lease`: the run is still its
    task's)."""
    return f"""settled AS (
    UPDATE billing_budgetreservation
       SET status = '{ReservationStatus.SETTLED}', updated_at = %(now)s
     WHERE execution_id = %(execution_id)s AND status = '{ReservationStatus.HELD}'
       AND EXISTS (SELECT 1 FROM {only_if})
)
"""  # noqa: S608 - enum values and a CTE name; inputs are parameters
