"""LLM engines in a backtest: run only against the replay cache or within the trader's explicit
budget, with the cost estimated before the start and a hard cap.

Today the News Trigger's LLM engine is replayed (its news crew scores the headlines the
trigger's keywords pick, 25 a call); other nodes on the LLM engine are refused by the plan,
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


def llm_needed(plan: BacktestPlan) -> bool:
    return _trigger(plan) is not None


def llm_estimate(plan: BacktestPlan, history) -> tuple[int, Decimal]:
    """(calls, dollars) the LLM engine would spend over `history` at most, before the replay
    cache answers any: one news-crew call per 25 candidate headlines, each at the typical
    tokens of a news-trigger call (billing.estimator)."""
    from agents.llm.config import llm_settings
    from agents.llm.crews import HEADLINES_PER_CALL
    from billing.estimator import LLM_AVG_TOKENS, token_price
    from pipelines.backtest.sessions import decision_moments

    trigger = _trigger(plan)
    if trigger is None or len(history) == 0:
        return 0, Decimal(0)
    headlines = news_headlines(history, plan.news_trigger, moments=decision_moments(history))
    calls = math.ceil(len(trigger.candidates(headlines)) / HEADLINES_PER_CALL)
    model = llm_settings().model_for("news", plan.news_trigger.get("model", ""))
    price_in, price_out = token_price(model)
    tokens_in, tokens_out = LLM_AVG_TOKENS["news_trigger"]
    per_call = (price_in * tokens_in + price_out * tokens_out) / 1000
    return calls, (per_call * calls).quantize(CENT_FRACTION)


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
