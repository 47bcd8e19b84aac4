"""A backtest's daily equity: the equity at each day's last bar, the day read in the zone given
(New York for intraday bars, so an evening bar after 00:00 UTC still counts to its NY day)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from pipelines.backtest.results import daily_equity


def _seconds(*moments: datetime) -> np.ndarray:
    return np.array([int(m.timestamp()) for m in moments], dtype=np.int64)


def test_it_keeps_each_days_last_bar_in_the_zone_given():
    bars = _seconds(
        datetime(2024, 1, 2, 14, 30, tzinfo=UTC),  # 09:30 New York, Jan 2
        datetime(2024, 1, 2, 20, 59, tzinfo=UTC),  # 15:59
        datetime(2024, 1, 3, 0, 30, tzinfo=UTC),  # 19:30 New York, still Jan 2
        datetime(2024, 1, 3, 14, 30, tzinfo=UTC),  # Jan 3
    )
    equity = np.array([100.0, 101.5, 99.25, 103.004])

    assert daily_equity(bars, equity, "America/New_York") == [
        ["2024-01-02", 99.25],
        ["2024-01-03", 103.0],
    ]
    assert daily_equity(bars, equity, "UTC") == [["2024-01-02", 101.5], ["2024-01-03", 103.0]]
    assert daily_equity(bars[:0], equity[:0], "UTC") == []
