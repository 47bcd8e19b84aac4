"""Cost estimates before a run (spec §9): agent runtime at each agent's hourly rate, plus tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from agents.registry import agent_class
from config.core.cron import cron_schedule

# Seconds an agent typically works per symbol (rules engine) when the owner has no history yet.
RULES_DURATION_SECONDS: dict[str, float] = {
    "time_trigger": 0.5,
    "technical_trigger": 1.0,
    "price_trigger": 0.5,
    "news_trigger": 2.0,
    "market_data_agent": 2.0,
    "bias_agent": 1.0,
    "strategy_agent": 1.0,
    "risk_manager_agent": 0.5,
    "trade_manager_agent": 2.0,
    "reporting_agent": 0.5,
    "stock_picker_agent": 2.0,
}
# The spec's LLM-engine durations (minutes → seconds) and average token use (§9.2).
LLM_DURATION_SECONDS: dict[str, float] = {
    "news_trigger": 120.0,
    "bias_agent": 360.0,
    "strategy_agent": 360.0,
    "risk_manager_agent": 180.0,
    "reporting_agent": 120.0,
}
LLM_AVG_TOKENS: dict[str, tuple[int, int]] = {
    "news_trigger": (1200, 200),
    "bias_agent": (2000, 500),
    "strategy_agent": (1500, 600),
    "reporting_agent": (3000, 500),
}
# Agents that work once per symbol in play (their cost multiplies with the symbol count).
PER_SYMBOL_AGENTS = {"bias_agent", "strategy_agent", "risk_manager_agent", "reporting_agent"}
TRADING_DAYS_PER_MONTH = 21
# The ledger's precision: a rules-engine step costs a few hundred-millionths of a dollar, and an
# estimate rounded coarser than what it is compared with would read as 0 or as a cent's worth.
MONEY = Decimal("0.00000001")


@dataclass
class CostEstimate:
    cost_per_execution: Decimal
    agent_costs: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_costs: dict[str, dict[str, Any]] = field(default_factory=dict)
    total_agent_cost: Decimal = Decimal("0")
    total_token_cost: Decimal = Decimal("0")
    estimated_duration_minutes: float = 0.0
    daily_executions_range: tuple[int, int] = (1, 1)
    daily_cost_range: tuple[Decimal, Decimal] = (Decimal("0"), Decimal("0"))
    monthly_cost_range: tuple[Decimal, Decimal] = (Decimal("0"), Decimal("0"))
    confidence: str = "medium"

    def cost_by_agent(self) -> dict[str, Decimal]:
        """Runtime plus tokens per agent type, for one run."""
        costs = {agent: entry["cost"] for agent, entry in self.agent_costs.items()}
        for agent, entry in self.token_costs.items():
            costs[agent] = costs.get(agent, Decimal(0)) + entry["cost"]
        return costs


def token_price(model: str) -> tuple[Decimal, Decimal]:
    """(input, output) USD per 1K tokens for `model` (built-in table, LLM_PRICING over it)."""
    from agents.llm.config import llm_settings

    price = llm_settings().price(model)
    return price.input, price.output


def _default_model() -> str:
    from agents.llm.config import llm_settings

    return llm_settings().default_model


def _window_minutes(schedule: dict[str, Any]) -> float:
    start = schedule.get("start_time") or "09:35"
    end = schedule.get("end_time") or "15:30"
    start_dt, end_dt = datetime.strptime(start, "%H:%M"), datetime.strptime(end, "%H:%M")
    return ((end_dt - start_dt).seconds) / 60


def _cron_runs_per_session(
    expression: str, schedule: dict[str, Any], at: date | None = None
) -> list[int]:
    """How many times a cron schedule fires on each trading day of the next 30 days (the
    exchange calendar: weekends and holidays do not count), within its active days."""
    from trading import calendar

    cron = cron_schedule(expression)
    start = at or date.today()
    active_days = set(schedule.get("active_days") or [0, 1, 2, 3, 4])
    window = None
    if schedule.get("start_time") and schedule.get("end_time"):
        window = (schedule["start_time"], schedule["end_time"])
    counts = []
    for day in calendar.sessions_between(start, start + timedelta(days=30)):
        if day.weekday() not in active_days:
            continue
        if day.month not in cron.month_of_year or day.day not in cron.day_of_month:
            continue
        if day.isoweekday() % 7 not in cron.day_of_week:
            continue
        fires = [f"{hour:02d}:{minute:02d}" for hour in cron.hour for minute in cron.minute]
        if window is not None:
            begin, end = window
            fires = (
                [t for t in fires if begin <= t < end]
                if begin < end
                else [t for t in fires if t >= begin or t < end]
            )
        counts.append(len(fires))
    return counts


def daily_executions(
    run_mode: str, schedule: dict[str, Any] | None, at: date | None = None
) -> tuple[int, int]:
    """Runs a day (fewest, most) for a run mode and its schedule (spec §9.2's rules; a cron
    schedule counted over the exchange's coming trading days)."""
    schedule = schedule or {}
    if run_mode == "run_scheduled":
        kind = schedule.get("schedule_type")
        if kind == "cron" and schedule.get("cron_expression"):
            counts = _cron_runs_per_session(schedule["cron_expression"], schedule, at)
            return (min(counts), max(counts)) if counts else (0, 0)
        if kind == "interval":
            runs = int(
                _window_minutes(schedule) / max(1, int(schedule.get("interval_minutes") or 60))
            )
            return max(1, runs), max(1, runs)
        return 1, 1
    if run_mode == "run_continuous":
        hours = _window_minutes(schedule) / 60
        low, high = max(1, int(hours)), max(1, int(hours * 2))
        if schedule.get("max_executions_per_day"):
            high = min(high, int(schedule["max_executions_per_day"]))
        if schedule.get("max_trades_per_day"):
            high = min(high, int(schedule["max_trades_per_day"]))
        return min(low, high), high
    if run_mode == "run_on_signal":
        return 1, int(schedule.get("max_trades_per_day") or 3)
    return 1, 1


def estimate_pipeline_cost(
    *,
    graph: dict[str, Any],
    run_mode: str = "run_once",
    schedule: dict[str, Any] | None = None,
    symbol_count: int = 1,
    history: dict[str, dict[str, float]] | None = None,
    at: date | None = None,
) -> CostEstimate:
    """§9.2: each agent's rental for its typical runtime plus its typical tokens, per run, per
    day and per month. `history` ("agent_type:engine" → median seconds, tokens_in, tokens_out
    per step of the owner's own runs) replaces the built-in figures where it has them."""
    history = history or {}
    estimate = CostEstimate(cost_per_execution=Decimal("0"))
    total_seconds = 0.0
    for node in graph.get("nodes", []):
        agent_type = node.get("agent_type", "")
        cls = agent_class(agent_type)
        if cls is None:
            continue
        config = node.get("config") or {}
        engine = config.get("engine", "rules")
        multiplier = max(1, symbol_count) if agent_type in PER_SYMBOL_AGENTS else 1
        own = history.get(f"{agent_type}:{engine}")
        if own is not None:
            seconds = float(own["seconds"]) * multiplier
        elif engine == "llm":
            seconds = LLM_DURATION_SECONDS.get(agent_type, 60.0) * multiplier
        else:
            seconds = RULES_DURATION_SECONDS.get(agent_type, 1.0)
            seconds *= multiplier
        rate = Decimal(cls.metadata.pricing_rate)
        agent_cost = (rate * Decimal(str(seconds)) / Decimal(3600)).quantize(MONEY, ROUND_HALF_UP)
        entry = estimate.agent_costs.setdefault(
            agent_type, {"hourly_rate": rate, "duration_minutes": 0.0, "cost": Decimal("0")}
        )
        entry["duration_minutes"] += seconds / 60
        entry["cost"] += agent_cost
        estimate.total_agent_cost += agent_cost
        total_seconds += seconds
        if engine == "llm" and (agent_type in LLM_AVG_TOKENS or own is not None):
            model = config.get("model") or _default_model()
            if own is not None:
                typical = (float(own["tokens_in"]), float(own["tokens_out"]))
            else:
                typical = LLM_AVG_TOKENS[agent_type]
            tokens_in, tokens_out = (round(t * multiplier) for t in typical)
            price_in, price_out = token_price(model)
            cost = Decimal(tokens_in) / 1000 * price_in + Decimal(tokens_out) / 1000 * price_out
            cost = cost.quantize(MONEY, ROUND_HALF_UP)
            estimate.token_costs[agent_type] = {
                "model": model,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cost": cost,
            }
            estimate.total_token_cost += cost
    estimate.cost_per_execution = estimate.total_agent_cost + estimate.total_token_cost
    estimate.estimated_duration_minutes = round(total_seconds / 60, 3)
    low, high = daily_executions(run_mode, schedule, at)
    estimate.daily_executions_range = (low, high)
    per_run = estimate.cost_per_execution
    estimate.daily_cost_range = (per_run * low, per_run * high)
    estimate.monthly_cost_range = (
        per_run * low * TRADING_DAYS_PER_MONTH,
        per_run * high * TRADING_DAYS_PER_MONTH,
    )
    if history or run_mode == "run_once":
        estimate.confidence = "high"
    elif run_mode == "run_continuous":
        estimate.confidence = "low"
    return estimate
