"""Pipeline manager: the budget gate's refusal states the estimate with enough precision."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.context import BudgetStatus, budget_refusal
from agents.errors import BudgetExceeded
from agents.tests.factories import build_agent, make_context, make_state


class ZeroDailyBudget:
    """A $0 daily budget and a run estimated at $0.0004."""

    def status(self) -> BudgetStatus:
        return BudgetStatus(
            user_daily_limit=Decimal("0"),
            user_monthly_limit=Decimal("200"),
            pipeline_daily_limit=None,
            spent_today=Decimal("0"),
            spent_this_month=Decimal("0"),
            pipeline_spent_today=Decimal("0"),
        )

    def estimate_execution_cost(self, *, symbol_count: int = 1) -> Decimal:
        return Decimal("0.0004") * symbol_count

    def reserve(self, *, estimate: Decimal) -> BudgetStatus:
        status = self.status()
        refusal = budget_refusal(status, estimate)
        if refusal:
            raise BudgetExceeded(refusal)
        return status


def test_it_refuses_a_run_over_a_zero_budget_showing_the_sub_cent_estimate():
    agent = build_agent("pipeline_manager_agent", {})
    with pytest.raises(BudgetExceeded) as refusal:
        agent.process(make_state(["AAPL"]), make_context(budget=ZeroDailyBudget()))
    message = str(refusal.value)
    assert "your daily budget is $0.00" in message
    assert "estimated at $0.0004" in message
