"""Drawdowns of an equity series: the fall from the running peak at each point, and the
deepest one with its peak, trough and recovery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np

from analytics.metrics.equity import EquitySeries, equity_values


def drawdown_series(equity: EquitySeries) -> np.ndarray:
    """Drawdown at each point, from the running peak: ``ddₜ = equityₜ ÷ max_{s ≤ t} equityₛ − 1``
    (≤ 0; the peak is the highest equity reached so far, not the initial balance)."""
    values = equity_values(equity)
    if not values.size:
        return values
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peaks > 0, values / peaks - 1, 0.0)


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall from a peak: its depth (≤ 0) and when it started, bottomed and ended."""

    depth: float  # max drawdown as a fraction, e.g. -0.12
    amount: Decimal  # the same fall in dollars (peak equity − trough equity, negative)
    peak_at: date | datetime | None
    trough_at: date | datetime | None
    recovered_at: date | datetime | None  # None while still under water


def max_drawdown(equity: EquitySeries) -> Drawdown:
    """Max drawdown: ``min_t (equityₜ ÷ max_{s ≤ t} equityₛ − 1)``, with the peak it fell from,
    the trough, and the first later point back at or above that peak (recovery)."""
    if not equity:
        return Drawdown(0.0, Decimal("0"), None, None, None)
    values = equity_values(equity)
    series = drawdown_series(equity)
    trough = int(np.argmin(series))
    depth = float(series[trough])
    if depth >= 0:
        return Drawdown(0.0, Decimal("0"), None, None, None)
    peak = int(np.argmax(values[: trough + 1]))
    after = np.flatnonzero(values[trough:] >= values[peak])
    recovered = equity[trough + int(after[0])][0] if after.size else None
    amount = Decimal(equity[trough][1]) - Decimal(equity[peak][1])
    return Drawdown(depth, amount, equity[peak][0], equity[trough][0], recovered)
