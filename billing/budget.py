"""The budget gate a pipeline run checks before paid agents work (used by the pipeline manager)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from accounts.models import User
from agents.context import BudgetStatus
from billing.estimator import estimate_pipeline_cost
from billing.selectors import spend_summary


class PipelineBudgetGate:
    """Spend against the owner's daily/monthly budgets and the pipeline's daily allocation."""

    def __init__(
        self,
        *,
        owner: User,
        pipeline_id: UUID,
        pipeline_daily_limit: Decimal | None,
        graph: dict[str, Any],
        history_seconds: dict[str, float] | None = None,
    ):
        self.owner = owner
        self.pipeline_id = pipeline_id
        self.pipeline_daily_limit = pipeline_daily_limit
        self.graph = graph
        self.history_seconds = history_seconds

    def status(self) -> BudgetStatus:
        spend = spend_summary(owner=self.owner, pipeline_id=self.pipeline_id)
        return BudgetStatus(
            user_daily_limit=self.owner.budget_limit_daily,
            user_monthly_limit=self.owner.budget_limit_monthly,
            pipeline_daily_limit=self.pipeline_daily_limit,
            spent_today=spend["today"],
            spent_this_month=spend["month"],
            pipeline_spent_today=spend["pipeline_today"],
        )

    def estimate_execution_cost(self, *, symbol_count: int = 1) -> Decimal:
        return estimate_pipeline_cost(
            graph=self.graph, symbol_count=symbol_count, history_seconds=self.history_seconds
        ).cost_per_execution
