"""The budget gate a pipeline run checks before paid agents work (used by the pipeline manager
and the engine): spend against the owner's budgets, and the run's reservation of its estimate."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from accounts.models import User
from agents.context import BudgetStatus
from billing.estimates import owner_agent_history
from billing.estimator import estimate_pipeline_cost
from billing.reservations import budget_reserve
from billing.selectors import spend_summary
from trading.clock import Clock


class PipelineBudgetGate:
    """Spend against the owner's daily/monthly budgets and the pipeline's daily allocation, and
    the reservation one execution holds against them."""

    def __init__(
        self,
        *,
        owner: User,
        pipeline_id: UUID,
        pipeline_daily_limit: Decimal | None,
        graph: dict[str, Any],
        execution_id: UUID | None = None,
        history: dict[str, dict[str, float]] | None = None,
        clock: Clock | None = None,
    ):
        self.owner = owner
        self.pipeline_id = pipeline_id
        self.pipeline_daily_limit = pipeline_daily_limit
        self.graph = graph
        self.execution_id = execution_id
        # The owner's medians per agent (billing.estimates.owner_agent_history), read once per run
        # when first needed: the estimate a run reserves, and stores to be measured against
        # what it then cost, is the one the owner is shown — their own runtimes once there
        # are some, not the built-in figures (milliseconds of rules, not seconds).
        self.history = history
        self.clock = clock  # the run's clock: which day's spend counts
        # What the run has reserved in all (None: nothing yet).
        self.reserved: Decimal | None = None
        # The whole run's estimate per agent type, recorded with its first reservation.
        self.breakdown: dict[str, Decimal] | None = None

    def status(self) -> BudgetStatus:
        spend = spend_summary(owner=self.owner, pipeline_id=self.pipeline_id, at=self._now())
        return BudgetStatus(
            user_daily_limit=self.owner.budget_limit_daily,
            user_monthly_limit=self.owner.budget_limit_monthly,
            pipeline_daily_limit=self.pipeline_daily_limit,
            spent_today=spend["today"],
            spent_this_month=spend["month"],
            pipeline_spent_today=spend["pipeline_today"],
        )

    def estimate_execution_cost(
        self, *, symbol_count: int = 1, node_ids: set[str] | None = None
    ) -> Decimal:
        """The run's estimated cost; with `node_ids`, only those nodes' (what is left to run)."""
        graph = self.graph
        if node_ids is not None:
            graph = {"nodes": [n for n in graph.get("nodes", []) if n.get("id") in node_ids]}
        if self.history is None:
            self.history = owner_agent_history(owner=self.owner)
        estimate = estimate_pipeline_cost(
            graph=graph, symbol_count=symbol_count, history=self.history
        )
        if node_ids is None:
            self.breakdown = estimate.cost_by_agent()
        return estimate.cost_per_execution

    def _now(self) -> datetime | None:
        return self.clock.now() if self.clock is not None else None

    def reserve(
        self,
        *,
        estimate: Decimal,
        spent_by_run: Decimal = Decimal(0),
        unrecorded: Decimal = Decimal(0),
    ) -> BudgetStatus:
        """Set `estimate` more aside for this run (BudgetExhausted when it does not fit);
        `unrecorded`: what it spent that the ledger does not show yet."""
        if self.execution_id is None:
            raise ValueError("A budget reservation needs the execution it is for.")
        status = budget_reserve(
            owner=self.owner,
            pipeline_id=self.pipeline_id,
            pipeline_daily_limit=self.pipeline_daily_limit,
            execution_id=self.execution_id,
            remaining_estimate=estimate,
            spent_by_run=spent_by_run,
            unrecorded=unrecorded,
            at=self._now(),
            estimated_by_agent=self.breakdown if self.reserved is None else None,
        )
        self.reserved = spent_by_run + max(estimate, Decimal(0))
        return status
