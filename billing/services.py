"""Billing writes: charging a step to the cost ledger and its daily roll-up."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_today
from agents.metering import LLMCall
from billing.hooks import active_pipeline_ids
from billing.models import CostEntry, CostType

MONEY_PLACES = Decimal("0.00000001")
SECONDS_PER_HOUR = Decimal(3600)


def agent_rental_cost(*, pricing_rate: Decimal, runtime_seconds: float) -> Decimal:
    """USD for `runtime_seconds` of an agent priced at `pricing_rate` per hour (charged per second
    of runtime, to the 8th decimal)."""
    seconds = Decimal(str(round(runtime_seconds, 6)))
    return (Decimal(pricing_rate) * seconds / SECONDS_PER_HOUR).quantize(
        MONEY_PLACES, rounding=ROUND_HALF_UP
    )


@dataclass(frozen=True)
class StepCharge:
    """What one finished step costs: its ledger rows (unsaved) and the two totals."""

    entries: list[CostEntry]
    agent_cost: Decimal
    token_cost: Decimal

    @property
    def total(self) -> Decimal:
        return self.agent_cost + self.token_cost


def step_charge(
    *,
    owner_id: int,
    pipeline_id: UUID | None,
    execution_id: UUID | None,
    agent_id: str,
    agent_type: str,
    pricing_rate: Decimal,
    runtime_seconds: float,
    llm_calls: Iterable[LLMCall] = (),
) -> StepCharge:
    """Price one agent step: rental per second of runtime, plus each metered model call."""
    agent_cost = agent_rental_cost(pricing_rate=pricing_rate, runtime_seconds=runtime_seconds)
    entries = []
    if agent_cost > 0:
        entries.append(
            CostEntry(
                owner_id=owner_id,
                pipeline_id=pipeline_id,
                execution_id=execution_id,
                agent_id=agent_id,
                agent_type=agent_type,
                cost_type=CostType.AGENT_RENTAL,
                quantity=Decimal(str(round(runtime_seconds, 6))),
                unit_cost=(Decimal(pricing_rate) / SECONDS_PER_HOUR).quantize(Decimal("1e-10")),
                total_cost=agent_cost,
            )
        )
    token_cost = Decimal("0")
    for call in llm_calls:
        tokens = call.prompt_tokens + call.completion_tokens
        token_cost += call.cost
        entries.append(
            CostEntry(
                owner_id=owner_id,
                pipeline_id=pipeline_id,
                execution_id=execution_id,
                agent_id=agent_id,
                agent_type=agent_type,
                cost_type=CostType.LLM_TOKENS,
                quantity=Decimal(tokens),
                unit_cost=(call.cost / tokens).quantize(Decimal("1e-10")) if tokens else Decimal(0),
                total_cost=call.cost.quantize(MONEY_PLACES),
                metadata={
                    "model": call.model,
                    "prompt_tokens": call.prompt_tokens,
                    "completion_tokens": call.completion_tokens,
                    "cached": call.cached,
                },
            )
        )
    return StepCharge(entries=entries, agent_cost=agent_cost, token_cost=token_cost)


def ledger_ctes(*, only_if: str | None = None) -> str:
    """The ledger write as CTEs of a larger statement (`ledger AS (…), daily AS (…)`, to follow a
    `WITH` or a comma), with the parameters of `ledger_params`: the entries and the day's
    roll-up. The engine's step boundary passes `only_if="lease"`, the name of its own CTE that
    yields a row while the run is still its task's, so the charge goes in with the step it
    charges, in the same round trip, or not at all. The roll-up is created or incremented
    atomically; NULLS NOT DISTINCT makes pipeline-less charges share one row."""
    gate = f"{only_if}, " if only_if else ""
    daily_from = f"\n      FROM {only_if}" if only_if else ""
    return f"""ledger AS (
    INSERT INTO billing_costentry (
        owner_id, pipeline_id, execution_id, agent_id, agent_type, cost_type, quantity,
        unit_cost, total_cost, metadata, created_at
    )
    SELECT e.owner_id, e.pipeline_id, e.execution_id, e.agent_id, e.agent_type, e.cost_type,
           e.quantity, e.unit_cost, e.total_cost, e.metadata, e.created_at
      FROM {gate}jsonb_to_recordset(%(ledger_entries)s::jsonb) AS e(
           owner_id bigint, pipeline_id uuid, execution_id uuid, agent_id text, agent_type text,
           cost_type text, quantity numeric, unit_cost numeric, total_cost numeric,
           metadata jsonb, created_at timestamptz)
), daily AS (
    INSERT INTO billing_dailycost (owner_id, pipeline_id, day, total_cost)
    SELECT %(ledger_owner_id)s, %(ledger_pipeline_id)s, %(ledger_day)s,
           %(ledger_amount)s{daily_from}
     WHERE %(ledger_amount)s > 0
    ON CONFLICT (owner_id, pipeline_id, day) DO UPDATE
    SET total_cost = billing_dailycost.total_cost + EXCLUDED.total_cost
)
"""  # noqa: S608 - constant text; values are parameters


# A charge on its own: the same ledger write, in a statement of its own. It shares its text with
# the step boundary's, which is what keeps the two ledger writes one (bench/bench_checkpoint.py
# measures the boundary that carries it). bench/bench_persistence.py, 1000 charges of two rows
# each, back to back, each in its transaction (2026-12-02, load average 2.8 on 2 cores): this
# statement p50 1.11 ms / p99 4.8 ms; the ORM (bulk_create, the roll-up incremented with F(),
# created in a savepoint on the day's first charge) p50 2.42 ms / p99 5.9 ms (at load 9.5:
# 3.91 / 9.3 ms against 7.37 / 16.1 ms).
CHARGE_SQL = f"WITH {ledger_ctes()}SELECT 1"


def ledger_params(
    charge: StepCharge | None, *, owner: User, pipeline_id: UUID | None, at: datetime
) -> dict[str, object]:
    """The parameters of `ledger_ctes` for `charge` (None: nothing to write)."""
    entries = charge.entries if charge is not None else []
    rows = [
        {
            "owner_id": entry.owner_id,
            "pipeline_id": str(entry.pipeline_id) if entry.pipeline_id else None,
            "execution_id": str(entry.execution_id) if entry.execution_id else None,
            "agent_id": entry.agent_id,
            "agent_type": entry.agent_type,
            "cost_type": entry.cost_type,
            "quantity": str(entry.quantity),
            "unit_cost": str(entry.unit_cost),
            "total_cost": str(entry.total_cost),
            "metadata": entry.metadata or {},
            "created_at": at.isoformat(),
        }
        for entry in entries
    ]
    return {
        "ledger_entries": json.dumps(rows),
        "ledger_owner_id": owner.pk,
        "ledger_pipeline_id": pipeline_id,
        "ledger_day": user_today(owner, at=at),
        "ledger_amount": charge.total if charge is not None and entries else Decimal(0),
    }


def charge_record(
    charge: StepCharge, *, owner: User, pipeline_id: UUID | None, at: datetime | None = None
) -> None:
    """Write a step's charge on its own (a failed or waiting step; a finished one rides in its
    step boundary). Call it inside the step's transaction."""
    if charge.entries:
        params = ledger_params(
            charge, owner=owner, pipeline_id=pipeline_id, at=at or timezone.now()
        )
        with connection.cursor() as cursor:
            cursor.execute(CHARGE_SQL, params)


def plan_check_activation(*, owner: User, pipeline_id: UUID | None = None) -> None:
    """UpgradeRequired when activating one more pipeline would pass the plan's limit (§19.5;
    only when limits are enforced)."""
    from billing.selectors import effective_plan
    from config.core.errors import UpgradeRequired

    current = effective_plan(user=owner)
    limit = current.plan.max_active_pipelines
    if not current.enforced or limit is None:
        return
    active_ids = {str(pk) for pk in active_pipeline_ids(owner=owner)}
    if pipeline_id is not None and str(pipeline_id) in active_ids:
        return  # already counted
    active = len(active_ids)
    if active >= limit:
        raise UpgradeRequired(
            f"Your {current.plan.name} plan allows {limit} active pipelines and {active} are "
            "active. Pause one, or upgrade your plan on the Billing page."
        )
