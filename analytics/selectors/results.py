"""A scope's results: its trades, equity and costs gathered in a fixed handful of queries and
measured by `analytics.metrics` into the one `Performance` the page, the API, the exports and
the report all show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.utils import timezone

from analytics import metrics
from analytics.selectors.breakdowns import trade_breakdowns
from analytics.selectors.scope import TEST_MODES, Scope
from analytics.selectors.trades import TradeColumns, closed_trade_columns, realized_before
from billing.selectors import spend_between
from pipelines.selectors import executions_for_user, pipeline_capitals_for_user
from trading.selectors import open_pnl_total, simulated_account_get

DEFAULT_CAPITAL = Decimal("100000")


@dataclass
class Performance:
    """Everything the analytics page, the API, the exports and the report show for a scope."""

    scope: Scope
    columns: TradeColumns
    capital: Decimal
    agent_costs: Decimal
    open_pnl: Decimal
    equity: list  # [(date, Decimal)] per business day
    trade_stats: dict
    equity_stats: dict
    breakdowns: dict
    pipeline_names: dict = field(default_factory=dict)
    exposure: float | None = None

    @property
    def book(self) -> metrics.TradeBook:
        return self.columns.book

    @property
    def has_trades(self) -> bool:
        return len(self.book) > 0

    def drawdown(self) -> list[tuple[date, float]]:
        series = metrics.drawdown_series(self.equity)
        return [(day, float(dd)) for (day, _), dd in zip(self.equity, series, strict=True)]

    def equity_per_trade(self) -> list:
        start = self.equity[0][1] if self.equity else self.capital
        return metrics.equity_by_trade(start, self.book)

    def figures(self) -> dict[str, Any]:
        """The headline figures, as the page cards, the API and the PDF all show them."""
        return {**self.trade_stats, **self.equity_stats, "exposure": self.exposure}


def _business_days(first: date, last: date) -> list[date]:
    days = np.arange(
        np.datetime64(first, "D"),
        np.datetime64(last + timedelta(days=1), "D"),
        dtype="datetime64[D]",
    )
    days = days[np.is_busday(days)]
    return [d.astype(date) for d in days]


def _capital(scope: Scope, pipelines: list[dict]) -> Decimal:
    if scope.pipeline_ids:
        return sum((p["capital"] for p in pipelines), Decimal("0")) or DEFAULT_CAPITAL
    if scope.mode in TEST_MODES:
        account = simulated_account_get(user=scope.user)
        if account is not None:
            return account.initial_balance
    return DEFAULT_CAPITAL


def performance(scope: Scope) -> Performance:
    """Gather a scope's trades, equity and costs (a fixed handful of queries whatever the number
    of trades) and compute every metric in one numpy pass per column."""
    pipelines = pipeline_capitals_for_user(user=scope.user, pipeline_ids=scope.pipeline_ids or None)
    names = {str(p["id"]): p["name"] for p in pipelines}
    capital = _capital(scope, pipelines)
    columns = closed_trade_columns(scope, [p["id"] for p in pipelines])
    book = columns.book
    balance_at_start = capital + realized_before(scope)
    mode_runs = executions_for_user(user=scope.user).filter(trading_mode=scope.mode).values("pk")
    agent_costs = spend_between(
        owner=scope.user,
        start=scope.start,
        end=scope.end,
        pipeline_ids=scope.pipeline_ids or None,
        execution_ids=mode_runs,
    )
    today = timezone.now().astimezone(scope.zone).date()
    open_pnl = (
        open_pnl_total(
            user=scope.user, trading_mode=scope.mode, pipeline_ids=scope.pipeline_ids or None
        )
        if scope.last_day >= today
        else Decimal("0")
    )
    first_day = scope.first_day
    if first_day is None:
        first_day = columns.close_day.min().astype(date) if len(book) else scope.last_day
    # The point before the first day is the balance the period starts from, so the first
    # day's result is a return like any other.
    base_day = first_day - timedelta(days=1)
    days = [base_day, *_business_days(first_day, scope.last_day)]
    equity = metrics.equity_by_day(balance_at_start, book, days, columns.close_day, open_pnl)
    period_start = scope.start or datetime.combine(first_day, time.min, scope.zone)
    period_end = min(scope.end, timezone.now())
    return Performance(
        scope=scope,
        columns=columns,
        capital=capital,
        agent_costs=agent_costs,
        open_pnl=open_pnl,
        equity=equity,
        trade_stats=metrics.trade_statistics(book, agent_costs, capital),
        equity_stats=metrics.equity_statistics(equity),
        breakdowns=trade_breakdowns(columns, names),
        pipeline_names=names,
        exposure=metrics.exposure_time(book, period_start, period_end),
    )
