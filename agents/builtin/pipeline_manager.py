"""Pipeline manager (system agent, injected first): the budget gate for one pipeline run."""

from __future__ import annotations

from decimal import Decimal

from agents.base import AgentMetadata, BaseAgent
from agents.context import AgentContext
from agents.registry import register
from agents.state import PipelineState
from trading.money import precise_cost

PIPELINE_MANAGER_TYPE = "pipeline_manager_agent"


def _limit(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


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
        estimate = ctx.budget.estimate_execution_cost(symbol_count=max(1, len(state.symbols)))
        # Checked and set aside in one step, so runs started together cannot all pass on the
        # same remaining dollars (the spend includes what runs in progress have reserved).
        status = ctx.budget.reserve(estimate=estimate)
        state.budget = {
            "checked": True,
            "estimated_cost": str(estimate),
            "reserved": str(estimate),
            "spent_today": str(status.spent_today),
            "spent_this_month": str(status.spent_this_month),
            "pipeline_spent_today": str(status.pipeline_spent_today),
            "user_daily_limit": _limit(status.user_daily_limit),
            "user_monthly_limit": _limit(status.user_monthly_limit),
            "pipeline_daily_limit": _limit(status.pipeline_daily_limit),
        }
        return state

    def summarize(self, state: PipelineState) -> str:
        if not state.budget.get("checked"):
            return "Budget not checked"
        return f"Budget ok — estimated {precise_cost(Decimal(state.budget['estimated_cost']))}"
