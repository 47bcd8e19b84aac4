"""Return and risk figures of an equity series, as quantstats computes them (risk-free
rate 0, 252 periods a year, sample standard deviation): daily returns, Sharpe, Sortino,
volatility, CAGR and Calmar."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from analytics.metrics.drawdowns import Drawdown, max_drawdown
from analytics.metrics.equity import EquitySeries, equity_values

PERIODS_PER_YEAR = 252


def daily_returns(equity: EquitySeries) -> np.ndarray:
    """Simple returns between consecutive points: ``rₜ = equityₜ ÷ equityₜ₋₁ − 1``."""
    values = equity_values(equity)
    if values.size < 2:
        return np.array([], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = values[1:] / values[:-1] - 1
    return returns[np.isfinite(returns)]


def sharpe_ratio(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """Sharpe: ``mean(r) ÷ std(r, ddof=1) × √periods`` (risk-free 0, sample deviation)."""
    if returns.size < 2:
        return None
    deviation = returns.std(ddof=1)
    if deviation == 0:
        return None
    return float(returns.mean() / deviation * math.sqrt(periods))


def sortino_ratio(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """Sortino: ``mean(r) ÷ √(Σ min(rₜ, 0)² ÷ n) × √periods`` (downside deviation over all n
    periods, target 0 — the Red Rock Capital definition quantstats uses)."""
    if returns.size < 2:
        return None
    downside = math.sqrt(float((returns[returns < 0] ** 2).sum()) / returns.size)
    if downside == 0:
        return None
    return float(returns.mean() / downside * math.sqrt(periods))


def annualised_volatility(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """Annualised volatility: ``std(r, ddof=1) × √periods``."""
    if returns.size < 2:
        return None
    return float(returns.std(ddof=1) * math.sqrt(periods))


def cagr(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """CAGR: ``(Π (1 + rₜ))^(periods ÷ n) − 1`` — n return periods make ``n ÷ periods`` years."""
    if not returns.size:
        return None
    wealth = float(np.prod(1.0 + returns))
    if wealth < 0:
        return None
    return wealth ** (periods / returns.size) - 1


def calmar_ratio(cagr_value: float | None, drawdown: Drawdown) -> float | None:
    """Calmar: ``CAGR ÷ |max drawdown|`` (None without a drawdown)."""
    if cagr_value is None or not drawdown.depth:
        return None
    return cagr_value / abs(drawdown.depth)


def equity_statistics(equity: EquitySeries, periods: int = PERIODS_PER_YEAR) -> dict:
    """Every equity statistic for one series, as a dict of named figures."""
    returns = daily_returns(equity)
    growth = cagr(returns, periods)
    drawdown = max_drawdown(equity)
    return {
        "sharpe": sharpe_ratio(returns, periods),
        "sortino": sortino_ratio(returns, periods),
        "volatility": annualised_volatility(returns, periods),
        "cagr": growth,
        "max_drawdown": drawdown.depth,
        "max_drawdown_amount": drawdown.amount,
        "max_drawdown_peak": drawdown.peak_at,
        "max_drawdown_trough": drawdown.trough_at,
        "max_drawdown_recovery": drawdown.recovered_at,
        "calmar": calmar_ratio(growth, drawdown),
        "starting_equity": Decimal(equity[0][1]) if equity else None,
        "ending_equity": Decimal(equity[-1][1]) if equity else None,
    }
