"""Trades grouped by a key (symbol, pipeline, weekday, hour of entry, direction, close
reason): count, wins, win rate and net P&L per group, and the keys to group on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analytics.metrics.book import TradeBook
from analytics.metrics.units import units_to_money


def breakdown(book: TradeBook, keys: np.ndarray, order: Sequence | None = None) -> list[dict]:
    """Group trades by ``keys`` (one key per trade): per group ``count``, ``wins``,
    ``win_rate = wins ÷ count`` and ``net_pnl = Σ net_pnlᵢ``. One numpy pass (``pd.factorize`` +
    ``np.bincount``); groups come in ``order`` when given, else by net P&L, best first."""
    if not len(book):
        return []
    # pandas' hash-based factorize: no string sort, no fixed-width copy of the keys.
    index, labels = pd.factorize(np.asarray(keys, dtype=object), sort=True)
    counts = np.bincount(index, minlength=labels.size)
    wins = np.bincount(index, weights=(book.net_units > 0), minlength=labels.size)
    # Float weights are exact for integer units below 2**53 (90 billion dollars at 1/10,000 $),
    # so rounding back to int64 gives the exact sum.
    sums = np.rint(np.bincount(index, weights=book.net_units, minlength=labels.size)).astype(
        np.int64
    )
    rows = [
        {
            "key": str(label),
            "count": int(counts[i]),
            "wins": int(wins[i]),
            "win_rate": float(wins[i] / counts[i]),
            "net_pnl": units_to_money(sums[i]),
        }
        for i, label in enumerate(labels)
    ]
    if order is not None:
        rank = {str(k): i for i, k in enumerate(order)}
        return sorted(rows, key=lambda r: rank.get(r["key"], len(rank)))
    return sorted(rows, key=lambda r: r["net_pnl"], reverse=True)


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
HOURS = [f"{hour:02d}:00" for hour in range(24)]


def weekday_keys(book: TradeBook, utc_offset_minutes: np.ndarray | int = 0) -> np.ndarray:
    """Day of the week each trade was entered (exchange time = UTC + offset), as Mon…Sun."""
    local = book.opened_at + np.asarray(utc_offset_minutes).astype("timedelta64[m]")
    days = (local.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return np.array(WEEKDAYS, dtype=object)[days]


def entry_hour_keys(book: TradeBook, utc_offset_minutes: np.ndarray | int = 0) -> np.ndarray:
    """Hour of entry in exchange time (UTC + offset) as "09:00"…"15:00"."""
    local = book.opened_at + np.asarray(utc_offset_minutes).astype("timedelta64[m]")
    hours = (local.astype("datetime64[h]").astype(np.int64)) % 24
    return np.array(HOURS, dtype=object)[hours]


def direction_keys(book: TradeBook) -> np.ndarray:
    """Direction of each trade: "long" or "short"."""
    return np.where(book.is_long, "long", "short").astype(object)
