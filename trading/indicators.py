"""Technical indicators (TA-Lib) over a bars frame: names, computation and latest values."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from trading.calendar import NEW_YORK

# Families that take a period, with the period a bare name means ("RSI" is RSI_14).
_PERIODIC: dict[str, tuple[str, int]] = {
    "SMA": ("sma", 20),
    "EMA": ("ema", 20),
    "RSI": ("rsi", 14),
    "ATR": ("atr", 14),
    "VOLUME_AVG": ("avg_volume", 20),
    "AVG_VOLUME": ("avg_volume", 20),
}
_FIXED: dict[str, str] = {"MACD": "macd", "BB": "bbands", "BBANDS": "bbands", "VWAP": "vwap"}
_NAME = re.compile(r"([A-Z]+(?:_[A-Z]+)?)(?:_?(\d+))?")
_MAX_PERIOD = 1000

MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
BB_PERIOD, BB_DEVIATIONS = 20, 2.0
DAILY_VWAP_PERIOD = 20

VALID_NAMES = (
    "SMA_<n> (e.g. SMA_20, SMA_50, SMA_200)",
    "EMA_<n> (e.g. EMA_9, EMA_20, EMA_50)",
    "RSI or RSI_<n> (default 14)",
    "MACD (12/26/9)",
    "BB or BBANDS (20, 2 sigma)",
    "ATR or ATR_<n> (default 14)",
    "VWAP",
    "VOLUME_AVG or AVG_VOLUME, optionally _<n> (default 20)",
)

DEFAULT_INDICATORS: list[str] = [
    "SMA_20",
    "SMA_50",
    "SMA_200",
    "EMA_9",
    "EMA_20",
    "RSI",
    "MACD",
    "BB",
    "ATR",
    "VWAP",
    "AVG_VOLUME",
]


@dataclass(frozen=True)
class IndicatorSpec:
    """A parsed indicator name: what to compute and the output keys it produces."""

    name: str  # canonical, e.g. "SMA_20", "RSI_14", "MACD"
    kind: str  # sma, ema, rsi, atr, avg_volume, macd, bbands, vwap
    period: int | None
    outputs: tuple[str, ...]

    @property
    def warmup(self) -> int:
        """Bars needed before the first value exists (roughly; EMA-based ones need more)."""
        if self.kind == "macd":
            return MACD_SLOW + MACD_SIGNAL - 1
        if self.kind == "bbands":
            return BB_PERIOD
        return self.period or 1


def parse_indicator(name: str) -> IndicatorSpec:
    """Parse an indicator name such as "SMA_50", "rsi", "macd", "BB" (case-insensitive)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"indicator name must be a non-empty string, got {name!r}")
    cleaned = name.strip().upper().replace("-", "_").replace(" ", "_")
    match = _NAME.fullmatch(cleaned)
    if match:
        family, digits = match.group(1), match.group(2)
        if family in _FIXED and digits is None:
            kind = _FIXED[family]
            outputs = {
                "macd": ("macd", "macd_signal", "macd_hist"),
                "bbands": ("bb_upper", "bb_middle", "bb_lower"),
                "vwap": ("vwap",),
            }[kind]
            canonical = {"macd": "MACD", "bbands": "BB", "vwap": "VWAP"}[kind]
            return IndicatorSpec(name=canonical, kind=kind, period=None, outputs=outputs)
        if family in _PERIODIC:
            kind, default = _PERIODIC[family]
            period = int(digits) if digits is not None else default
            if not 2 <= period <= _MAX_PERIOD:
                raise ValueError(f"indicator {name!r}: period must be between 2 and {_MAX_PERIOD}")
            key = f"{kind}_{period}"
            canonical = f"{'AVG_VOLUME' if kind == 'avg_volume' else kind.upper()}_{period}"
            return IndicatorSpec(name=canonical, kind=kind, period=period, outputs=(key,))
    raise ValueError(f"unknown indicator {name!r}; valid names are: {'; '.join(VALID_NAMES)}")


def output_keys(names: Iterable[str]) -> list[str]:
    """The column names compute_indicators would produce for `names`, in order."""
    keys: list[str] = []
    for name in names:
        for key in parse_indicator(name).outputs:
            if key not in keys:
                keys.append(key)
    return keys


def compute_indicators(
    bars: pd.DataFrame, names: Iterable[str], *, timeframe: str | None = None
) -> pd.DataFrame:
    """Indicator series aligned with `bars` (NaN during warm-up), one column per output key.

    `bars` has open/high/low/close/volume columns and a DatetimeIndex. `timeframe` ("1d" or an
    intraday one) decides how VWAP is anchored; when omitted it is inferred from bar spacing.
    """
    specs = [parse_indicator(name) for name in names]
    columns: dict[str, np.ndarray] = {}
    count = len(bars)
    if count:
        high = _array(bars, "high")
        low = _array(bars, "low")
        close = _array(bars, "close")
        volume = _array(bars, "volume")
    for spec in specs:
        if spec.outputs[0] in columns:
            continue
        if not count:
            for key in spec.outputs:
                columns[key] = np.empty(0)
            continue
        if spec.kind == "sma":
            columns[spec.outputs[0]] = talib.SMA(close, timeperiod=spec.period)
        elif spec.kind == "ema":
            columns[spec.outputs[0]] = talib.EMA(close, timeperiod=spec.period)
        elif spec.kind == "rsi":
            columns[spec.outputs[0]] = talib.RSI(close, timeperiod=spec.period)
        elif spec.kind == "atr":
            columns[spec.outputs[0]] = talib.ATR(high, low, close, timeperiod=spec.period)
        elif spec.kind == "avg_volume":
            columns[spec.outputs[0]] = talib.SMA(volume, timeperiod=spec.period)
        elif spec.kind == "macd":
            macd, signal, hist = talib.MACD(
                close, fastperiod=MACD_FAST, slowperiod=MACD_SLOW, signalperiod=MACD_SIGNAL
            )
            columns.update(macd=macd, macd_signal=signal, macd_hist=hist)
        elif spec.kind == "bbands":
            upper, middle, lower = talib.BBANDS(
                close, timeperiod=BB_PERIOD, nbdevup=BB_DEVIATIONS, nbdevdn=BB_DEVIATIONS, matype=0
            )
            columns.update(bb_upper=upper, bb_middle=middle, bb_lower=lower)
        elif spec.kind == "vwap":
            columns["vwap"] = _vwap(bars, high, low, close, volume, timeframe)
    return pd.DataFrame(columns, index=bars.index)


def is_number(value) -> bool:
    """A real number: an int or float that is not NaN (an indicator's warm-up value)."""
    return isinstance(value, int | float) and value == value  # NaN != NaN


def latest_values(
    frame: pd.DataFrame, n_back: int = 1
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """The last row and the row `n_back` before it, as plain floats with NaN -> None.

    The pair is what `crosses_above` / `crosses_below` conditions compare; when the frame is
    too short for the previous row, every previous value is None.
    """
    if n_back < 1:
        raise ValueError("n_back must be at least 1")
    columns = list(frame.columns)
    empty = dict.fromkeys(columns)
    if frame.empty:
        return dict(empty), dict(empty)
    latest = _row(frame, -1)
    previous = _row(frame, -1 - n_back) if len(frame) > n_back else dict(empty)
    return latest, previous


def _row(frame: pd.DataFrame, position: int) -> dict[str, float | None]:
    values = frame.iloc[position]
    result: dict[str, float | None] = {}
    for key, value in values.items():
        number = float(value) if value is not None else math.nan
        result[str(key)] = None if math.isnan(number) else number
    return result


def _array(bars: pd.DataFrame, column: str) -> np.ndarray:
    try:
        return np.ascontiguousarray(bars[column].to_numpy(dtype=np.float64))
    except KeyError:
        raise ValueError(f"bars need a {column!r} column") from None


def _is_daily(index: pd.Index, timeframe: str | None) -> bool:
    if timeframe is not None:
        return timeframe == "1d"
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return False
    spacing = np.diff(index.as_unit("s").asi8)
    return float(np.median(spacing)) >= 20 * 3600


def _vwap(
    bars: pd.DataFrame,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    timeframe: str | None,
) -> np.ndarray:
    """Session-anchored VWAP for intraday bars; rolling 20-bar volume-weighted price for 1d."""
    typical = (high + low + close) / 3.0
    weighted = typical * volume
    if _is_daily(bars.index, timeframe):
        weighted_sum = talib.SUM(weighted, timeperiod=DAILY_VWAP_PERIOD)
        volume_sum = talib.SUM(volume, timeperiod=DAILY_VWAP_PERIOD)
    else:
        index = bars.index
        if not isinstance(index, pd.DatetimeIndex):
            raise ValueError("VWAP needs bars indexed by time")
        if index.tz is None:
            index = index.tz_localize("UTC")
        # Intraday bars only exist inside sessions, so the New York date names the session.
        session = pd.Series(index.tz_convert(NEW_YORK).date, index=range(len(index)))
        weighted_sum = pd.Series(weighted).groupby(session).cumsum().to_numpy()
        volume_sum = pd.Series(volume).groupby(session).cumsum().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = weighted_sum / volume_sum
    return np.where(volume_sum > 0, vwap, np.nan)
