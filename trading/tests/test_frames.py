"""Shared bar-frame helpers: session filtering, daily re-stamping, resampling, closed bars."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from trading.marketdata.frames import (
    bars_frame,
    closed_bars,
    keep_session_bars,
    lookback_start,
    normalise_daily,
    resample,
)


def _frame(stamps: list[str], closes: list[float]) -> pd.DataFrame:
    seconds = np.array([int(pd.Timestamp(s, tz="UTC").timestamp()) for s in stamps])
    close = np.asarray(closes, dtype=float)
    values = np.column_stack([close, close + 1, close - 1, close, np.full(len(close), 10.0)])
    return bars_frame(seconds, values)


def test_it_keeps_clock_aligned_bars_that_overlap_a_session():
    # Alpaca-style hour bars on 2026-11-25 (New York = UTC-5): 08:00 and 16:00 New York are
    # wholly outside the session; 09:00-10:00 overlaps the 09:30 open.
    hours = _frame(
        ["2026-11-25 13:00", "2026-11-25 14:00", "2026-11-25 20:00", "2026-11-25 21:00"],
        [1, 2, 3, 4],
    )
    kept = keep_session_bars(hours, 60)
    assert kept["close"].tolist() == [2, 3]


def test_it_restamps_daily_bars_and_drops_non_sessions():
    daily = _frame(
        ["2026-11-25 00:00", "2026-11-26 00:00", "2026-11-27 05:00"],  # UTC date, holiday, NY
        [1, 2, 3],
    )
    restamped = normalise_daily(daily)
    assert list(restamped.index) == [
        pd.Timestamp("2026-11-25 14:30", tz="UTC"),
        pd.Timestamp("2026-11-27 14:30", tz="UTC"),
    ]
    assert restamped["close"].tolist() == [1, 3]


def test_it_resamples_into_session_aligned_buckets():
    stamps = [f"2026-11-27 {h:02d}:{m:02d}" for h in range(14, 18) for m in (0, 30)]
    half_hours = _frame(stamps, list(range(len(stamps))))  # 14:00 is pre-market on the half day
    hours = resample(half_hours, "1h", source_minutes=30)
    assert [t.strftime("%H:%M") for t in hours.index] == ["14:30", "15:30", "16:30", "17:30"]
    assert hours["open"].tolist() == [1, 3, 5, 7]
    assert hours["close"].tolist() == [2, 4, 6, 7]
    assert hours["volume"].tolist() == [20, 20, 20, 10]
    closed = closed_bars(hours, "1h", end=datetime(2026, 11, 27, 18, 0, tzinfo=UTC), limit=10)
    assert len(closed) == 4  # the 17:30 bar closes at the 18:00 early close
    assert (
        len(closed_bars(hours, "1h", end=datetime(2026, 11, 27, 17, 59, tzinfo=UTC), limit=2)) == 2
    )


def test_it_looks_back_far_enough_for_the_requested_bars():
    end = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert lookback_start("1d", end, 5) <= datetime(2026, 11, 19, tzinfo=UTC)
    assert lookback_start("5m", end, 78) <= datetime(2026, 11, 26, tzinfo=UTC)
    assert lookback_start("1h", end, 1) < end
