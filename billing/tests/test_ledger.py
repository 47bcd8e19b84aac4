"""A step's charge written on its own (a failed or waiting step): the ledger rows and the day's
roll-up, from the same SQL the engine's step boundary composes, without any CTE of the caller."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.models import CostEntry, CostType, DailyCost
from billing.services import CHARGE_SQL, charge_record, ledger_ctes, step_charge

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _charge(owner, seconds: float):
    return step_charge(
        owner_id=owner.pk,
        pipeline_id=None,
        execution_id=None,
        agent_id="bias",
        agent_type="bias_agent",
        pricing_rate=Decimal("3.60"),
        runtime_seconds=seconds,
    )


def test_it_writes_a_charge_and_adds_it_to_the_days_roll_up(owner):
    charge_record(_charge(owner, 10), owner=owner, pipeline_id=None, at=AT)
    charge_record(_charge(owner, 5), owner=owner, pipeline_id=None, at=AT)

    entries = CostEntry.objects.filter(owner=owner).order_by("quantity")
    assert [(e.cost_type, e.quantity, e.total_cost) for e in entries] == [
        (CostType.AGENT_RENTAL, Decimal("5.000000"), Decimal("0.00500000")),
        (CostType.AGENT_RENTAL, Decimal("10.000000"), Decimal("0.01000000")),
    ]
    # Pipeline-less charges share the day's one row.
    day = DailyCost.objects.get(owner=owner)
    assert (day.pipeline_id, day.total_cost) == (None, Decimal("0.01500000"))


def test_it_names_the_cte_it_waits_for_only_when_asked():
    assert "lease" not in CHARGE_SQL
    gated = ledger_ctes(only_if="lease")
    assert "FROM lease, jsonb_to_recordset" in gated
    assert "FROM lease\n" in gated
