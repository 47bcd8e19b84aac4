"""Conditions over a whole history at once: each condition's indicators computed on its
timeframe's bars (TA-Lib on arrays), its mask taken, and a higher timeframe's mask aligned to
the base bars at the bar whose close completes the higher bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.backtest.plan import PlanError
from trading.conditions import compute_name
from trading.indicators import compute_indicators
from trading.marketdata.base import TIMEFRAMES
from trading.marketdata.frames import INTRADAY_MINUTES, bar_closes, resample

if TYPE_CHECKING:
    from pipelines.backtest.engine import History

MEMO_ENTRIES = 32  # bars and indicator columns kept per history (each as long as the history)


def _condition_masks(history: History, conditions, logic: str) -> np.ndarray:
    """One boolean per bar: the conditions (on their timeframes) hold at that bar's close."""
    n = len(history)
    if not conditions:
        return np.zeros(n, dtype=bool)
    frame = history.frame()
    base = history.timeframe
    by_timeframe: dict[str, list] = {}
    for condition in conditions:
        by_timeframe.setdefault(condition.timeframe, []).append(condition)
    masks = []
    for timeframe, group in by_timeframe.items():
        bars = _memo(history, ("bars", timeframe), lambda tf=timeframe: _bars_on(frame, base, tf))
        keys = set().union(*(c.keys for c in group))
        names = sorted({compute_name(k) for k in keys} - {None})
        columns = {k: bars[k].to_numpy(np.float64) for k in ("open", "high", "low", "close")}
        columns["volume"] = bars["volume"].to_numpy(np.float64)
        for name in names:
            columns.update(
                _memo(history, ("indicator", timeframe, name), _columns(bars, name, timeframe))
            )
        for condition in group:
            mask = condition.mask(columns)
            masks.append(mask if timeframe == base else _align(mask, bars, frame, condition))
    combined = np.logical_and.reduce(masks) if logic == "AND" else np.logical_or.reduce(masks)
    return np.asarray(combined, dtype=bool)


def _memo(history: History, key: tuple, compute):
    """`compute()` once per history: the backtests of a sweep chunk replay the same History
    object (pipelines.backtest.histories), and the combinations that differ only in other
    parameters share its bars and indicators."""
    if key in history.memo:
        return history.memo[key]
    value = compute()
    if len(history.memo) < MEMO_ENTRIES:  # a sweep over many lengths: the rest are not kept
        history.memo[key] = value
    return value


def _columns(bars: pd.DataFrame, name: str, timeframe: str):
    """An indicator's output columns over the bars (TA-Lib on arrays), computed when called."""

    def compute() -> dict[str, np.ndarray]:
        indicators = compute_indicators(bars, [name], timeframe=timeframe)
        return {k: indicators[k].to_numpy() for k in indicators.columns}

    return compute


def _bars_on(frame: pd.DataFrame, base: str, timeframe: str) -> pd.DataFrame:
    if timeframe == base:
        return frame
    if TIMEFRAMES.index(timeframe) < TIMEFRAMES.index(base) or base == "1d":
        raise PlanError(
            f"A condition on {timeframe} bars needs a dataset of {timeframe} bars or finer; "
            f"this one has {base} bars.",
            field="dataset",
        )
    return resample(frame, timeframe, source_minutes=INTRADAY_MINUTES[base])


def _align(mask: np.ndarray, bars: pd.DataFrame, frame: pd.DataFrame, condition) -> np.ndarray:
    """A higher timeframe's mask on the base bars: known from the base bar whose close completes
    the higher bar. A crossing is an event (that bar only); a comparison holds until the next
    higher bar closes."""
    higher_open = bars.index.asi8 // 1_000_000_000
    base_open = frame.index.asi8 // 1_000_000_000
    base_tf = "1m" if len(frame) < 2 else _timeframe_of(frame)
    higher_close = bar_closes(higher_open, condition.timeframe)
    base_close = bar_closes(base_open, base_tf)
    index = np.searchsorted(higher_close, base_close, side="right") - 1
    known = index >= 0
    aligned = np.zeros(len(frame), dtype=bool)
    aligned[known] = mask[index[known]]
    if condition.operator.startswith("crosses"):
        first = np.r_[True, index[1:] != index[:-1]]
        aligned &= first
    return aligned


def _timeframe_of(frame: pd.DataFrame) -> str:
    step = int(np.median(np.diff(frame.index.asi8[: min(len(frame), 500)])) // 60_000_000_000)
    return {1: "1m", 5: "5m", 15: "15m", 60: "1h", 240: "4h"}.get(step, "1d")
