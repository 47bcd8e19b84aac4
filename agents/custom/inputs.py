"""The strategy API's inputs as plain data: bars per timeframe, TA-Lib indicators, position, params.

A strategy sees `bars[timeframe]` as {"open", "high", "low", "close", "volume"} lists (oldest
first), `indicators[key]` as lists aligned with the bars of its first timeframe (None during an
indicator's warm-up), `position` as {"side": "long"|"short", "quantity", "entry"} or None, and
`params` with every declared parameter filled in. Indicators are computed here, in the worker,
with the same TA-Lib code the market-data agent uses; strategy code only reads numbers.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from trading.indicators import compute_indicators

SYNTHETIC_BARS = 120
BAR_SPACING = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}


def _clean(values) -> list[float | None]:
    return [None if value is None or not math.isfinite(value) else float(value) for value in values]


def frame_from_candles(candles: list[dict[str, Any]]) -> pd.DataFrame:
    """The state's candles ({t, o, h, l, c, v}) as a bars frame."""
    index = pd.DatetimeIndex([pd.Timestamp(candle["t"]) for candle in candles])
    return pd.DataFrame(
        {
            "open": [float(c["o"]) for c in candles],
            "high": [float(c["h"]) for c in candles],
            "low": [float(c["l"]) for c in candles],
            "close": [float(c["c"]) for c in candles],
            "volume": [float(c["v"]) for c in candles],
        },
        index=index,
    )


def bars_payload(frame: pd.DataFrame) -> dict[str, list[float]]:
    return {
        column: _clean(frame[column].tolist())
        for column in ("open", "high", "low", "close", "volume")
    }


def strategy_inputs(
    *,
    frames: dict[str, pd.DataFrame],
    timeframes: list[str],
    indicators: list[str],
    position: dict[str, Any] | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    """One evaluation's inputs; indicators are computed on the first declared timeframe."""
    primary = frames[timeframes[0]]
    computed = (
        compute_indicators(primary, indicators, timeframe=timeframes[0]) if indicators else None
    )
    return {
        "bars": {timeframe: bars_payload(frames[timeframe]) for timeframe in timeframes},
        "indicators": (
            {key: _clean(computed[key].tolist()) for key in computed.columns}
            if computed is not None
            else {}
        ),
        "position": position,
        "params": params,
    }


def history_inputs(
    *,
    frame: pd.DataFrame,
    timeframe: str,
    indicators: list[str],
    params: dict[str, Any],
    window: int = 60,
    start: int | None = None,
    positions: list[dict[str, Any] | None] | None = None,
) -> list[dict[str, Any]]:
    """Inputs for every bar of a history from `start` on (a backtest chunk): indicators are
    computed once over the whole frame, each evaluation sees the `window` bars up to its own.
    Pass the list to `sandbox_evaluate_many` — one sandbox call for the chunk."""
    calls = [
        call
        for _, chunk in history_input_chunks(
            frame=frame,
            timeframe=timeframe,
            indicators=indicators,
            params=params,
            window=window,
            start=start,
            size=len(frame) + 1,
        )
        for call in chunk
    ]
    for call, position in zip(calls, positions or [], strict=False):
        call["position"] = position
    return calls


def history_input_chunks(
    *,
    frame: pd.DataFrame,
    timeframe: str,
    indicators: list[str],
    params: dict[str, Any],
    window: int = 60,
    start: int | None = None,
    size: int = 250,
):
    """(first bar, inputs) for chunks of `size` bars, flat (no position): the indicators are
    computed once for the whole history, the windows are built one chunk at a time, so a long
    history never holds every window in memory. Each chunk is one `sandbox_evaluate_many`."""
    computed = compute_indicators(frame, indicators, timeframe=timeframe) if indicators else None
    bars = bars_payload(frame)
    series = (
        {key: _clean(computed[key].tolist()) for key in computed.columns}
        if computed is not None
        else {}
    )
    first = max(1, window if start is None else start)
    for chunk_start in range(first, len(frame) + 1, size):
        calls = []
        for end in range(chunk_start, min(chunk_start + size, len(frame) + 1)):
            begin = max(0, end - window)
            calls.append(
                {
                    "bars": {timeframe: {key: values[begin:end] for key, values in bars.items()}},
                    "indicators": {key: values[begin:end] for key, values in series.items()},
                    "position": None,
                    "params": params,
                }
            )
        yield chunk_start - 1, calls


def synthetic_frame(*, timeframe: str, drift: float, seed: int, bars: int = SYNTHETIC_BARS):
    """Deterministic random-walk bars for the dry run (up, down or sideways by `drift`)."""
    generator = random.Random(seed)  # noqa: S311 - test data, not security
    spacing = BAR_SPACING.get(timeframe, timedelta(minutes=5))
    start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    price = 100.0
    rows = []
    for _ in range(bars):
        change = drift + generator.gauss(0, 0.004)
        close = max(1.0, price * (1 + change))
        high = max(price, close) * (1 + abs(generator.gauss(0, 0.002)))
        low = min(price, close) * (1 - abs(generator.gauss(0, 0.002)))
        volume = generator.randint(200_000, 2_000_000)
        rows.append((price, high, low, close, volume))
        price = close
    index = pd.DatetimeIndex([start + spacing * i for i in range(bars)])
    return pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"], index=index)


DRY_RUN_SCENARIOS = (
    ("rising market, flat", 0.002, None),
    ("falling market, flat", -0.002, None),
    ("sideways market, long", 0.0, {"side": "long", "quantity": 10, "entry": 100.0}),
    ("rising market, short", 0.002, {"side": "short", "quantity": 10, "entry": 100.0}),
)


def dry_run_inputs(
    *, timeframes: list[str], indicators: list[str], params: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """The dry run's evaluations on synthetic bars: (what it is, inputs)."""
    calls = []
    for seed, (label, drift, position) in enumerate(DRY_RUN_SCENARIOS):
        frames = {
            timeframe: synthetic_frame(timeframe=timeframe, drift=drift, seed=seed)
            for timeframe in timeframes
        }
        calls.append(
            (
                label,
                strategy_inputs(
                    frames=frames,
                    timeframes=timeframes,
                    indicators=indicators,
                    position=position,
                    params=params,
                ),
            )
        )
    return calls
