"""Indicator conditions ("rsi_14 > 70", "close crosses_above sma_50") evaluated on bars.

One rule for every place a condition is judged: a technical trigger and the stock picker (the
agents), a position's exit conditions (the monitor) and a backtest (a batch of bars at once).
The builder's form for a condition (its JSON Schema) is the agents'
(`agents.builtin.conditions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trading.indicators import compute_indicators, is_number, latest_values, parse_indicator

COMPARISONS = (">", "<", ">=", "<=")
CROSSES = ("crosses_above", "crosses_below")
OPERATORS = COMPARISONS + CROSSES
SIGNALS = ("bullish_crossover", "bearish_crossover")

# Bar fields a condition may name besides indicators.
BAR_FIELDS = {
    "price": "close",
    "close": "close",
    "open": "open",
    "high": "high",
    "low": "low",
    "volume": "volume",
}
# Columns that come out of a multi-output indicator, with the name that computes them.
GROUPED_COLUMNS = {
    "macd": "MACD",
    "macd_signal": "MACD",
    "macd_hist": "MACD",
    "macd_histogram": "MACD",
    "bb_upper": "BB",
    "bb_middle": "BB",
    "bb_lower": "BB",
    "vwap": "VWAP",
}


class ConditionError(ValueError):
    """A condition that cannot be judged: an unknown indicator or operator, a missing value."""


INDICATOR_HELP = (
    "price/close/open/high/low, volume, SMA_n, EMA_n, RSI (rsi_14), ATR (atr_14), macd, "
    "macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, vwap, AVG_VOLUME (avg_volume_20)"
)


def indicator_key(name: str) -> str:
    """The column a trader's indicator name reads ('RSI' → 'rsi_14', 'Price' → 'close')."""
    key = name.strip().lower()
    if key in BAR_FIELDS:
        return BAR_FIELDS[key]
    if key in GROUPED_COLUMNS:
        return "macd_hist" if key == "macd_histogram" else key
    try:
        spec = parse_indicator(name)
    except ValueError:
        raise ConditionError(f"Unknown indicator {name!r}; use one of: {INDICATOR_HELP}.") from None
    if spec.kind == "bbands":
        raise ConditionError(f"Say which band {name!r} means: bb_upper, bb_middle or bb_lower.")
    return spec.outputs[0]


def compute_name(key: str) -> str | None:
    """What to ask compute_indicators for to get column `key` (None for plain bar fields)."""
    if key in ("open", "high", "low", "close", "volume"):
        return None
    return GROUPED_COLUMNS.get(key) or parse_indicator(key).name


def compute_names(keys: set[str]) -> list[str]:
    return sorted({name for key in keys if (name := compute_name(key)) is not None})


def bar_values(
    bars: pd.DataFrame, keys: set[str], timeframe: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Latest and previous values of `keys` (bar fields and indicators) on closed `bars`."""
    names = compute_names(keys)
    latest: dict[str, Any] = {}
    previous: dict[str, Any] = {}
    if names:
        latest, previous = latest_values(
            compute_indicators(bars, names, timeframe=timeframe), n_back=1
        )
    if len(bars):
        last = bars.iloc[-1]
        for field in ("open", "high", "low", "close", "volume"):
            latest[field] = float(last[field])
    if len(bars) > 1:
        before = bars.iloc[-2]
        for field in ("open", "high", "low", "close", "volume"):
            previous[field] = float(before[field])
    return latest, previous


@dataclass(frozen=True)
class Condition:
    """One comparison on one timeframe: `left operator (right_key | value)`."""

    left: str
    operator: str
    timeframe: str
    right_key: str | None = None
    value: float | None = None
    label: str = ""

    @property
    def keys(self) -> set[str]:
        return {self.left} | ({self.right_key} if self.right_key else set())

    def describe(self) -> str:
        right = self.right_key if self.right_key else f"{self.value:g}"
        return (
            self.label
            or f"{self.left} {self.operator.replace('_', ' ')} {right} ({self.timeframe})"
        )

    def evaluate(self, latest: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        """{'condition', 'met', 'values', 'note'?} for the bars' latest and previous values."""
        left_now, left_before = latest.get(self.left), previous.get(self.left)
        if self.right_key:
            right_now, right_before = latest.get(self.right_key), previous.get(self.right_key)
        else:
            right_now = right_before = self.value
        values = {self.left: left_now}
        if self.right_key:
            values[self.right_key] = right_now
        result: dict[str, Any] = {"condition": self.describe(), "met": False, "values": values}
        if self.operator in CROSSES:
            values[f"previous_{self.left}"] = left_before
            if self.right_key:
                values[f"previous_{self.right_key}"] = right_before
            numbers = (left_now, left_before, right_now, right_before)
        else:
            numbers = (left_now, right_now)
        if not all(is_number(number) for number in numbers):
            result["note"] = "not enough bars for these values yet"
            return result
        result["met"] = _holds(self.operator, left_now, right_now, left_before, right_before)
        return result

    def mask(self, columns: dict[str, Any]) -> Any:
        """The condition on every bar at once: a boolean array over `columns` (arrays of the
        same length, keyed like `keys`). The same rule as `evaluate`, for a batch of bars (a
        backtest); warm-up NaNs never hold."""
        left = np.asarray(columns[self.left], dtype=np.float64)
        right = (
            np.asarray(columns[self.right_key], dtype=np.float64)
            if self.right_key
            else np.full(len(left), float(self.value))
        )
        left_before = np.r_[np.nan, left[:-1]]
        right_before = np.r_[np.nan, right[:-1]]
        with np.errstate(invalid="ignore"):
            return np.asarray(
                _holds(self.operator, left, right, left_before, right_before), dtype=bool
            )


def _holds(
    operator: str, left: float, right: float, left_before: float, right_before: float
) -> bool:
    if operator == ">":
        return left > right
    if operator == "<":
        return left < right
    if operator == ">=":
        return left >= right
    if operator == "<=":
        return left <= right
    # `&` rather than `and`: the same rule serves one bar (floats) and many (numpy arrays).
    if operator == "crosses_above":
        return (left_before <= right_before) & (left > right)
    if operator == "crosses_below":
        return (left_before >= right_before) & (left < right)
    raise ConditionError(f"Unknown operator {operator!r}; use one of {', '.join(OPERATORS)}.")


def parse_condition(raw: dict[str, Any], *, default_timeframe: str, position: int) -> Condition:
    """A Condition from its config dict, including the spec's MACD crossover shorthand."""
    timeframe = raw.get("timeframe") or default_timeframe
    signal = raw.get("signal")
    if signal:
        if indicator_key(raw["indicator"]) not in ("macd", "macd_hist"):
            raise ConditionError(
                f"Condition {position}: the {signal} shorthand works with MACD only."
            )
        operator = "crosses_above" if signal == "bullish_crossover" else "crosses_below"
        label = f"MACD {signal.replace('_', ' ')} ({timeframe})"
        return Condition("macd", operator, timeframe, right_key="macd_signal", label=label)
    operator = raw.get("operator") or ">"
    if operator not in OPERATORS:
        raise ConditionError(
            f"Condition {position}: unknown operator {operator!r}; use one of "
            f"{', '.join(OPERATORS)}."
        )
    left = indicator_key(raw["indicator"])
    if raw.get("compare_to"):
        return Condition(left, operator, timeframe, right_key=indicator_key(raw["compare_to"]))
    if raw.get("value") is None:
        raise ConditionError(
            f"Condition {position} ({raw['indicator']} {operator}) needs a value or an indicator "
            "to compare to."
        )
    return Condition(left, operator, timeframe, value=float(raw["value"]))
