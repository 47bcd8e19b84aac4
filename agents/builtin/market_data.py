"""Market data agent: a quote, bars and indicators per symbol on each timeframe the run reads."""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import no_symbols, run_all, timeframe_sort_key, timeframes_property
from agents.context import AgentContext
from agents.errors import AgentError
from agents.registry import register
from agents.state import MarketData, PipelineState, TimeframeData
from trading.indicators import (
    DEFAULT_INDICATORS,
    compute_indicators,
    latest_values,
    parse_indicator,
)
from trading.marketdata.base import MarketDataError, Quote
from trading.marketdata.frames import frame_seconds

OHLCV = ("open", "high", "low", "close", "volume")
# Computed timeframes kept per process (about 20 kB each).
COMPUTED_CACHE_SIZE = 256


class _Bars:
    """Closed bars that hash and compare by content (open times and OHLCV values), so the
    indicator work on them can be memoised."""

    __slots__ = ("digest", "frame", "values")

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        # Providers build frames as one float block in OHLCV order: read it without a copy.
        if tuple(frame.columns.tolist()[: len(OHLCV)]) == OHLCV:  # (slicing an Index is slow)
            self.values = frame.to_numpy(dtype=np.float64)[:, : len(OHLCV)]
        else:
            self.values = frame[list(OHLCV)].to_numpy(dtype=np.float64)
        digest = hashlib.blake2b(digest_size=16)
        digest.update(frame_seconds(frame).tobytes())
        digest.update(np.ascontiguousarray(self.values).tobytes())
        self.digest = digest.digest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Bars) and other.digest == self.digest


# Indicators are a pure function of the bars: a run a minute after the last one reads the same
# closed 1h/4h/1d bars (and often the same 5m ones), so the work is done once per process. The
# returned dict is never handed out: TimeframeData copies its containers on construction.
@functools.lru_cache(maxsize=COMPUTED_CACHE_SIZE)
def _computed(
    bars: _Bars, timeframe: str, indicators: tuple[str, ...], candles_in_state: int
) -> dict[str, Any]:
    values = bars.values
    latest: dict[str, float | None] = {}
    previous: dict[str, float | None] = {}
    if indicators:
        latest, previous = latest_values(
            compute_indicators(bars.frame, indicators, timeframe=timeframe), n_back=1
        )
    kept = min(candles_in_state, len(values))
    candles = []
    if kept:
        # Vectorised ISO stamps (bar open, UTC): Timestamp.isoformat() per bar costs 10x more.
        opens = frame_seconds(bars.frame)[-kept:].astype("datetime64[s]")
        stamps = np.datetime_as_string(opens, unit="s").tolist()
        for stamp, (o, h, low, c, v) in zip(stamps, values[-kept:].tolist(), strict=True):
            candles.append({"t": f"{stamp}+00:00", "o": o, "h": h, "l": low, "c": c, "v": v})
    return {
        "timeframe": timeframe,
        "ohlcv": dict(zip(OHLCV, values[-1].tolist(), strict=True)),
        "indicators": latest,
        "previous_indicators": previous,
        "candles": candles,
        "bar_count": len(values),
    }


def timeframe_data(
    bars: pd.DataFrame, timeframe: str, indicators: list[str], candles_in_state: int
) -> TimeframeData:
    """One timeframe's slice of the state from its closed bars."""
    if bars.empty:
        raise ValueError(f"no closed {timeframe} bars")
    return TimeframeData(**_computed(_Bars(bars), timeframe, tuple(indicators), candles_in_state))


@register
class MarketDataAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="market_data_agent",
        name="Market Data Agent",
        description=(
            "Fetches a live quote and recent bars for every symbol on each timeframe the "
            "pipeline reads, and computes the indicators (SMA, EMA, RSI, MACD, Bollinger "
            "Bands, ATR, VWAP, average volume) the analysis agents use."
        ),
        category="data",
        icon="candlestick_chart",
        pricing_rate=Decimal("0"),
        is_free=True,
        config_schema={
            "type": "object",
            "title": "Market data agent",
            "description": "What data to fetch for each symbol.",
            "properties": {
                "timeframes": timeframes_property(
                    "Timeframes",
                    "Bars to fetch; timeframes later agents read are added automatically.",
                    ["5m", "1h", "4h", "1d"],
                ),
                "indicators": {
                    "type": "array",
                    "title": "Indicators",
                    "description": (
                        "Computed on every timeframe, e.g. SMA_20, EMA_9, RSI, MACD, BB, ATR, "
                        "VWAP, AVG_VOLUME."
                    ),
                    "items": {
                        "type": "string",
                        "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
                        "maxLength": 40,
                    },
                    "uniqueItems": True,
                    "maxItems": 40,
                    "default": list(DEFAULT_INDICATORS),
                },
                "lookback_bars": {
                    "type": "integer",
                    "title": "Bars per timeframe",
                    "description": "History fetched for the indicators; SMA 200 needs 200+.",
                    "minimum": 30,
                    "maximum": 1000,
                    "default": 300,
                },
                "candles_in_state": {
                    "type": "integer",
                    "title": "Candles kept",
                    "description": "Recent candles per timeframe passed on to later agents.",
                    "minimum": 0,
                    "maximum": 500,
                    "default": 60,
                },
            },
            "required": [],
            "additionalProperties": False,
        },
    )

    def timeframes(self, ctx: AgentContext) -> list[str]:
        wanted = set(self.config["timeframes"]) | set(ctx.pipeline.required_timeframes)
        return sorted(wanted, key=timeframe_sort_key)

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        now = ctx.clock.now().astimezone(UTC)
        symbols = list(state.symbols)
        timeframes = self.timeframes(ctx)
        indicators = list(self.config["indicators"])
        for name in indicators:
            try:
                parse_indicator(name)
            except ValueError as error:
                raise AgentError(f"Market data: {error}.") from None
        limit = self.config["lookback_bars"]
        candles = self.config["candles_in_state"]
        provider = ctx.market_data

        def job(symbol: str, timeframe: str):
            def fetch() -> TimeframeData:
                bars = provider.bars(symbol, timeframe, end=now, limit=limit)
                return timeframe_data(bars, timeframe, indicators, candles)

            return fetch

        results = run_all(ctx, {(s, tf): job(s, tf) for s in symbols for tf in timeframes})
        try:
            quotes = provider.quotes(symbols, at=now)
        except MarketDataError as error:
            quotes = {}
            state.add_warning(
                self.agent_id, f"Quotes unavailable ({error}); using the last bar closes."
            )

        failures: dict[str, str] = {}
        for symbol in symbols:
            frames: dict[str, TimeframeData] = {}
            problems = []
            for timeframe in timeframes:
                result = results[(symbol, timeframe)]
                if isinstance(result, Exception):
                    problems.append(f"{timeframe}: {result}")
                else:
                    frames[timeframe] = result
            if problems:
                failures[symbol] = "; ".join(problems)
                state.add_error(
                    self.agent_id, f"{symbol}: no market data ({failures[symbol]}).", symbol
                )
                state.drop_symbol(symbol)
                continue
            state.market_data[symbol] = self._market_data(
                state, symbol, frames, quotes.get(symbol), now
            )
        if len(failures) == len(symbols):
            raise AgentError(
                "Market data: no data for any symbol ("
                + "; ".join(f"{symbol}: {why}" for symbol, why in failures.items())
                + ")."
            )
        return state

    def _market_data(
        self,
        state: PipelineState,
        symbol: str,
        frames: dict[str, TimeframeData],
        quote: Quote | None,
        now: datetime,
    ) -> MarketData:
        if quote is not None:
            return MarketData(
                symbol=symbol,
                current_price=quote.price,
                bid=quote.bid,
                ask=quote.ask,
                volume=int(quote.volume),
                timestamp=quote.timestamp,
                timeframes=frames,
            )
        # No quote: fall back to the close of the finest timeframe's last bar.
        finest = frames[min(frames, key=timeframe_sort_key)]
        close = finest.ohlcv["close"]
        state.add_warning(
            self.agent_id, f"{symbol}: no quote; using the last {finest.timeframe} close.", symbol
        )
        return MarketData(
            symbol=symbol,
            current_price=close,
            bid=close,
            ask=close,
            volume=int(finest.ohlcv["volume"]),
            timestamp=now,
            timeframes=frames,
        )

    def summarize(self, state: PipelineState) -> str:
        if not state.market_data:
            return "No symbols left to fetch"
        fetched = [state.market_data[s] for s in state.symbols if s in state.market_data]
        if not fetched:
            return "No symbols left to fetch"
        timeframes = sorted({tf for m in fetched for tf in m.timeframes}, key=timeframe_sort_key)
        prices = ", ".join(f"{m.symbol} {m.current_price:.2f}" for m in fetched[:5])
        more = f" and {len(fetched) - 5} more" if len(fetched) > 5 else ""
        return f"{prices}{more} on {', '.join(timeframes)}"
