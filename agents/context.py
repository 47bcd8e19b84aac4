"""AgentContext: what an agent may use besides the state — clock, data, executor, meters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from agents.metering import CostMeter
from trading.clock import Clock
from trading.executors.base import TradeExecutor
from trading.marketdata.base import MarketDataProvider, NewsProvider
from trading.money import precise_cost

if TYPE_CHECKING:
    from agents.llm.client import LLMClient


@dataclass(frozen=True)
class BudgetStatus:
    """Spend so far against the limits that apply to one pipeline run (None = no limit)."""

    user_daily_limit: Decimal | None
    user_monthly_limit: Decimal | None
    pipeline_daily_limit: Decimal | None
    spent_today: Decimal
    spent_this_month: Decimal
    pipeline_spent_today: Decimal


def money(value: Decimal | None) -> str:
    """A limit or spend in a budget refusal: "no limit", or dollars with enough digits to read a
    sub-cent amount ($0.0004, not $0.00): the decision hangs on it."""
    return "no limit" if value is None else precise_cost(value)


def budget_refusal(status: BudgetStatus, needed: Decimal) -> str | None:
    """Why `needed` more dollars do not fit the limits in `status` (None: they fit). The spend
    figures include what other runs in progress have reserved."""
    checks = (
        ("your daily budget", status.user_daily_limit, status.spent_today),
        ("your monthly budget", status.user_monthly_limit, status.spent_this_month),
        (
            "this pipeline's daily allocation",
            status.pipeline_daily_limit,
            status.pipeline_spent_today,
        ),
    )
    for label, limit, spent in checks:
        if limit is not None and spent + needed > limit:
            return (
                f"Budget: {label} is {money(limit)}, {money(spent)} is spent or reserved by "
                f"runs in progress and this run is estimated at {money(needed)}. Raise the "
                "limit or wait for it to reset."
            )
    return None


class BudgetGate(Protocol):
    def status(self) -> BudgetStatus: ...

    def estimate_execution_cost(self, *, symbol_count: int = 1) -> Decimal: ...

    def reserve(self, *, estimate: Decimal) -> BudgetStatus:
        """Set `estimate` aside for this run atomically (raises BudgetExceeded when it does
        not fit); the spend it was checked against."""
        ...


class SymbolSource(Protocol):
    def scanner_tickers(self, scanner_id: str) -> list[str]: ...


@dataclass(frozen=True)
class PipelineInfo:
    pipeline_id: str
    name: str
    owner_id: str
    trading_mode: str
    mode_config: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    # Union of the timeframes every node of the graph reads (the market data agent fetches them).
    required_timeframes: frozenset[str] = frozenset()
    execution_id: str = ""


@dataclass
class AgentContext:
    clock: Clock
    market_data: MarketDataProvider
    news: NewsProvider
    executor: TradeExecutor
    pipeline: PipelineInfo
    meter: CostMeter = field(default_factory=CostMeter)
    budget: BudgetGate | None = None
    symbol_source: SymbolSource | None = None
    # None: agents get their client from agents.llm.client.llm_client_for (settings decide);
    # a client set here is used instead (bound to each agent's id).
    llm: LLMClient | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("agents"))

    def now(self):
        return self.clock.now()
