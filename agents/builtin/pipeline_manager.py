"""Pipeline manager (system agent, injected first): the budget gate for one pipeline run."""

from __future__ import annotations

from decimal import Decimal

from agents.base import AgentMetadata, BaseAgent
from agents.context import AgentContext
from agents.errors import BudgetExceeded
from agents.registry import register
from agents.state import PipelineState
from trading.money import precise_cost

PIPELINE_MANAGER_TYPE = "pipeline_manager_agent"


def _money(value: Decimal | None) -> str:
    # Sub-cent amounts keep their digits: a $0.0004 estimate refused by a $0 budget must not
    # read "$0.00".
    return "no limit" if value is None else precise_cost(value)


@register
class PipelineManagerAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type=PIPELINE_MANAGER_TYPE,
        name="Pipeline Manager",
        description=(
            "Coordinates the run: checks the estimated cost against your daily and monthly "
            "budgets and the pipeline's own allocation before any paid agent works."
        ),
        category="system",
        icon="settings_applications",
        pricing_rate=Decimal("0"),
        is_free=True,
        is_system_agent=True,
        config_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if ctx.budget is None:
            state.budget = {"checked": False, "reason": "no budget gate configured"}
            return state
        status = ctx.budget.status()
        estimate = ctx.budget.estimate_execution_cost(symbol_count=max(1, len(state.symbols)))
        checks = [
            ("your daily budget", status.user_daily_limit, status.spent_today),
            ("your monthly budget", status.user_monthly_limit, status.spent_this_month),
            (
                "this pipeline's daily allocation",
                status.pipeline_daily_limit,
                status.pipeline_spent_today,
            ),
        ]
        state.budget = {
            "checked": True,
            "estimated_cost": str(estimate),
            "spent_today": str(status.spent_today),
            "spent_this_month": str(status.spent_this_month),
            "pipeline_spent_today": str(status.pipeline_spent_today),
            "user_daily_limit": None
            if status.user_daily_limit is None
            else str(status.user_daily_limit),
            "user_monthly_limit": None
            if status.user_monthly_limit is None
            else str(status.user_monthly_limit),
            "pipeline_daily_limit": None
            if status.pipeline_daily_limit is None
            else str(status.pipeline_daily_limit),
        }
        for label, limit, spent in checks:
            if limit is not None and spent + estimate > limit:
                raise BudgetExceeded(
                    f"Budget: {label} is {_money(limit)}, {_money(spent)} is spent and this run "
                    f"is estimated at {_money(estimate)}. Raise the limit or wait for it to reset."
                )
        return state

    def summarize(self, state: PipelineState) -> str:
        if not state.budget.get("checked"):
            return "Budget not checked"
        return f"Budget ok — estimated {precise_cost(Decimal(state.budget['estimated_cost']))}"
