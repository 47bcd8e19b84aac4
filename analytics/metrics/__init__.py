"""Performance metrics, written once: pure functions over closed trades and an equity series.

Everything here works on plain inputs, so live trades, paper trades, simulations and backtests
are all measured by the same code:

- closed trades: a :class:`TradeBook` (numpy columns, built once by :func:`trade_book` from any
  iterable of :class:`ClosedTrade` or mappings with the same keys);
- an equity series: a list of ``(date or datetime, Decimal equity)`` pairs, oldest first.

Money stays exact: Decimal amounts are held as integer counts of 1/10,000 of a dollar (the
ledger's finest precision, four decimal places), summed in int64 and turned back into Decimal,
so a sum of 10,000 trades is computed in one numpy pass and is still exact to the cent. Ratios
are floats. Return-based figures (Sharpe, Sortino, volatility, CAGR, max drawdown) follow the
conventions of quantstats — risk-free rate 0, 252 periods a year, sample standard deviation —
and the tests hold them to quantstats' figures on the same series.

One module per concern: ``units`` (exact money), ``book`` (the trade columns), ``trades``
(trade statistics), ``breakdowns`` (trades grouped by a key), ``equity`` (equity series),
``drawdowns`` and ``returns`` (return and risk ratios). Importers use ``analytics.metrics.<name>``:
every public name is re-exported here.
"""

from analytics.metrics.book import ClosedTrade, TradeBook, trade_book, trade_book_from_columns
from analytics.metrics.breakdowns import (
    HOURS,
    WEEKDAYS,
    breakdown,
    direction_keys,
    entry_hour_keys,
    weekday_keys,
)
from analytics.metrics.drawdowns import Drawdown, drawdown_series, max_drawdown
from analytics.metrics.equity import EquitySeries, equity_by_day, equity_by_trade, rebased
from analytics.metrics.returns import (
    PERIODS_PER_YEAR,
    annualised_volatility,
    cagr,
    calmar_ratio,
    daily_returns,
    equity_statistics,
    sharpe_ratio,
    sortino_ratio,
)
from analytics.metrics.trades import (
    average_holding_time,
    average_loss,
    average_win,
    expectancy,
    exposure_time,
    gross_pnl,
    largest_loss,
    largest_win,
    long_short_split,
    losing_trades,
    max_consecutive_losses,
    max_consecutive_wins,
    net_pnl,
    pnl_after_costs,
    profit_factor,
    roi,
    total_commissions,
    total_slippage,
    trade_count,
    trade_statistics,
    win_rate,
    winning_trades,
)
from analytics.metrics.units import MONEY_SCALE

__all__ = [
    "HOURS",
    "MONEY_SCALE",
    "PERIODS_PER_YEAR",
    "WEEKDAYS",
    "ClosedTrade",
    "Drawdown",
    "EquitySeries",
    "TradeBook",
    "annualised_volatility",
    "average_holding_time",
    "average_loss",
    "average_win",
    "breakdown",
    "cagr",
    "calmar_ratio",
    "daily_returns",
    "direction_keys",
    "drawdown_series",
    "entry_hour_keys",
    "equity_by_day",
    "equity_by_trade",
    "equity_statistics",
    "expectancy",
    "exposure_time",
    "gross_pnl",
    "largest_loss",
    "largest_win",
    "long_short_split",
    "losing_trades",
    "max_consecutive_losses",
    "max_consecutive_wins",
    "max_drawdown",
    "net_pnl",
    "pnl_after_costs",
    "profit_factor",
    "rebased",
    "roi",
    "sharpe_ratio",
    "sortino_ratio",
    "total_commissions",
    "total_slippage",
    "trade_book",
    "trade_book_from_columns",
    "trade_count",
    "trade_statistics",
    "weekday_keys",
    "win_rate",
    "winning_trades",
]
