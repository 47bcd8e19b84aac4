"""Equity series: a list of ``(date or datetime, Decimal equity)`` pairs, oldest first —
built per day or per closed trade from a :class:`TradeBook`, and rebased for comparison."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np

from analytics.metrics.book import TradeBook
from analytics.metrics.units import CENTS, money_to_units, units_to_money

EquitySeries = Sequence[tuple[date | datetime, Decimal]]


def equity_by_day(
    starting_balance: Decimal,
    book: TradeBook,
    days: Sequence[date],
    day_of_close: np.ndarray,
    open_pnl_on_last_day: Decimal = Decimal("0"),
) -> list[tuple[date, Decimal]]:
    """Daily equity: ``equity_d = starting balance + Σ net_pnlᵢ (trade i closed on or before d)``,
    plus, on the last day only, the unrealized P&L of positions still open marked at the last
    price. ``day_of_close`` holds each trade's close day (``datetime64[D]``, in the trader's
    zone); trades closed before ``days[0]`` are already in the balance at the start."""
    if not days:
        return []
    grid = np.array(days, dtype="datetime64[D]")
    # searchsorted on the sorted close days: how many trades closed by each day's end.
    order = np.argsort(day_of_close, kind="stable")
    cumulative = np.concatenate(([0], np.cumsum(book.net_units[order])))
    closed_by = np.searchsorted(day_of_close[order], grid, side="right")
    start_units = money_to_units(starting_balance)
    units = start_units + cumulative[closed_by]
    series = [(day, units_to_money(u).quantize(CENTS)) for day, u in zip(days, units, strict=True)]
    if open_pnl_on_last_day:
        last_day, last_equity = series[-1]
        series[-1] = (last_day, (last_equity + Decimal(open_pnl_on_last_day)).quantize(CENTS))
    return series


def equity_by_trade(starting_balance: Decimal, book: TradeBook) -> list[tuple[datetime, Decimal]]:
    """Equity after each closed trade: ``equity_k = starting balance + Σ_{i ≤ k} net_pnlᵢ``."""
    units = money_to_units(starting_balance) + np.cumsum(book.net_units)
    return [
        (moment.astype(datetime).replace(tzinfo=UTC), units_to_money(u).quantize(CENTS))
        for moment, u in zip(book.closed_at, units, strict=True)
    ]


def equity_values(equity: EquitySeries) -> np.ndarray:
    return np.array([float(value) for _, value in equity], dtype=np.float64)


def rebased(equity: EquitySeries, base: float = 100.0) -> list[tuple[date | datetime, float]]:
    """Equity rebased to ``base`` at its first point: ``base × equityₜ ÷ equity₀`` (comparison)."""
    if not equity or not equity[0][1]:
        return []
    first = float(equity[0][1])
    return [(moment, base * float(value) / first) for moment, value in equity]
