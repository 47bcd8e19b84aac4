"""Billing writes: charging a step to the cost ledger and its daily roll-up."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from django.db import connection
from django.utils import timezone

from accounts.models import User
from agents.metering import LLMCall
from billing.models import CostEntry, CostType, DailyCost

MONEY_PLACES = Decimal("0.00000001")
SECONDS_PER_HOUR = Decimal(3600)


def agent_rental_cost(*, pricing_rate: Decimal, runtime_seconds: float) -> Decimal:
    """USD for `runtime_seconds` of an agent priced at `pricing_rate` per hour (charged per second
    of runtime, to the 8th decimal)."""
    seconds = Decimal(str(round(runtime_seconds, 6)))
    return (Decimal(pricing_rate) * seconds / SECONDS_PER_HOUR).quantize(
        MONEY_PLACES, rounding=ROUND_HALF_UP
    )


def owner_local_day(*, owner: User, at: datetime | None = None):
    try:
        zone = zoneinfo.ZoneInfo(owner.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return timezone.localtime(at or timezone.now(), zone).date()


def _add_to_daily(*, owner: User, pipeline_id: UUID | None, day, amount: Decimal) -> None:
    # One statement, safe under concurrency: the unique (owner, pipeline, day) row is created or
    # incremented atomically (NULLS NOT DISTINCT makes pipeline-less charges share one row).
    table = DailyCost._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (owner_id, pipeline_id, day, total_cost)
            VALUES (%s, %s, %s, %s)
            ON CONFLICT (owner_id, pipeline_id, day) DO UPDATE
            SET total_cost = {table}.total_cost + EXCLUDED.total_cost
            """,  # noqa: S608 - the table name is ours; values are parameters
            [owner.pk, pipeline_id, day, amount],
        )


def cost_record_step(
    *,
    owner: User,
    pipeline_id: UUID | None,
    execution_id: UUID | None,
    agent_id: str,
    agent_type: str,
    pricing_rate: Decimal,
    runtime_seconds: float,
    llm_calls: Iterable[LLMCall] = (),
    at: datetime | None = None,
) -> tuple[Decimal, Decimal]:
    """Charge one agent step; returns (agent cost, token cost). Call it inside the step's
    transaction."""
    agent_cost = agent_rental_cost(pricing_rate=pricing_rate, runtime_seconds=runtime_seconds)
    entries = []
    if agent_cost > 0:
        entries.append(
            CostEntry(
                owner=owner,
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
                owner=owner,
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
    if entries:
        CostEntry.objects.bulk_create(entries)
        total = agent_cost + token_cost
        if total > 0:
            day = owner_local_day(owner=owner, at=at)
            _add_to_daily(owner=owner, pipeline_id=pipeline_id, day=day, amount=total)
    return agent_cost, token_cost
