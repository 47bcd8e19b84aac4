"""LLM engines in a backtest: run only against the replay cache or within the trader's explicit
budget, with the cost estimated before the start and a hard cap.

Today the News Trigger's LLM engine is replayed (its news crew scores the headlines the
trigger's keywords pick, 25 a call), the Bias agent's (its bias crew reads the bias on the
bars where the trigger fired, `pipelines.backtest.bias`) and, after a Bias node, the Strategy
agent's (its crew sets the levels of the trades the bias sides, `llm_strategy`); other nodes on
the LLM engine are refused by the plan,
with the rules engine as the cheap alternative. The cap is the run's CostMeter: a call that
could take the spend past it is refused before any token is bought (`BudgetExceeded`), and the
backtest stops there. Without a budget the cap is zero — only answers already in the replay
cache are used.
"""

from __future__ import annotations

import math
from decimal import Decimal

from pipelines.backtest.news import news_headlines
from pipelines.backtest.plan import BacktestPlan

CENT_FRACTION = Decimal("0.0001")


def _trigger(plan: BacktestPlan):
    from agents.builtin.news_trigger import NewsTrigger

    if plan.news_trigger is None:
        return None
    trigger = NewsTrigger("news_trigger", plan.news_trigger)
    return trigger if trigger.asks_model() else None


def _bias_on_llm(plan: BacktestPlan) -> bool:
    return plan.bias is not None and plan.bias.get("engine") == "llm"


def llm_needed(plan: BacktestPlan) -> bool:
    return _trigger(plan) is not None or _bias_on_llm(plan) or plan.strategy_llm is not None


def llm_node(plan: BacktestPlan) -> tuple[str, str]:
    """(field, name) of the first node whose LLM engine the backtest would run."""
    if _trigger(plan) is not None:
        return "news_trigger.engine", "The News Trigger"
    if _bias_on_llm(plan):
        return f"{plan.bias_node}.engine", "The Bias agent"
    return f"{plan.strategy_node}.engine", "The Strategy agent"


def _typical_cost(agent_type: str, model: str, count: int) -> Decimal:
    """`count` steps of `agent_type` at its typical tokens (billing.estimator)."""
    from billing.estimator import LLM_AVG_TOKENS, token_price

    price_in, price_out = token_price(model)
    tokens_in, tokens_out = LLM_AVG_TOKENS[agent_type]
    return (price_in * tokens_in + price_out * tokens_out) / 1000 * count


def llm_estimate(plan: BacktestPlan, history) -> tuple[int, Decimal]:
    """(steps, dollars) the LLM engines would spend over `history` at most, before the replay
    cache answers any: one news-crew call per 25 candidate headlines, and one bias-crew
    reading and one strategy-crew plan per bar on which the trigger fires, each at the typical
    tokens of its agent (billing.estimator)."""
    from agents.llm.config import llm_settings
    from agents.llm.crews import HEADLINES_PER_CALL
    from pipelines.backtest.sessions import decision_moments

    if len(history) == 0:
        return 0, Decimal(0)
    steps, dollars = 0, Decimal(0)
    trigger = _trigger(plan)
    if trigger is not None:
        headlines = news_headlines(history, plan.news_trigger, moments=decision_moments(history))
        calls = math.ceil(len(trigger.candidates(headlines)) / HEADLINES_PER_CALL)
        model = llm_settings().model_for("news", plan.news_trigger.get("model", ""))
        steps, dollars = calls, _typical_cost("news_trigger", model, calls)
    if _bias_on_llm(plan):
        from pipelines.backtest.bias import trigger_bars

        readings = len(trigger_bars(history, plan))
        model = llm_settings().model_for("bias", plan.bias.get("model", ""))
        steps, dollars = steps + readings, dollars + _typical_cost("bias_agent", model, readings)
    if plan.strategy_llm is not None:
        from pipelines.backtest.bias import trigger_bars

        plans = len(trigger_bars(history, plan))  # at most one per trigger bar
        model = llm_settings().model_for("strategy", plan.strategy_llm.get("model", ""))
        steps, dollars = steps + plans, dollars + _typical_cost("strategy_agent", model, plans)
    return steps, dollars.quantize(CENT_FRACTION)


def llm_client(*, owner_id, budget: Decimal | None, agent_id: str = "news_trigger"):
    """(client, meter): the backtest's LLM client, on the owner's replay cache, whose meter
    refuses any call past `budget` (None: nothing may be spent)."""
    from agents.llm.client import LLMClient
    from agents.llm.config import llm_settings
    from agents.metering import CostMeter

    meter = CostMeter(max_cost_per_run=budget if budget is not None else Decimal(0))
    client = LLMClient(
        config=llm_settings(), meter=meter, agent_id=agent_id, owner_id=str(owner_id)
    )
    return client, meter
