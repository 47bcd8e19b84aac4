"""In-memory market data, news and accounts for agent tests: crafted bars, real interfaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import talib

from trading import calendar
from trading.executors.base import (
    AccountSnapshot,
    BracketOrderRequest,
    OrderResult,
    PositionSnapshot,
)
from trading.executors.validation import ValidationExecutor
from trading.marketdata.base import (
    TIMEFRAME_DELTAS,
    TIMEFRAMES,
    Headline,
    MarketDataProvider,
    NewsProvider,
    Quote,
    UnknownSymbol,
)

BARS = 300


# --- Close-price shapes --------------------------------------------------------------------


def uptrend(count: int = BARS, start: float = 100.0) -> np.ndarray:
    """A steady climb (+0.2 % a bar) with a wiggle, so some bars fall and RSI stays below 100;
    the series ends on an upswing (MACD histogram positive and rising)."""
    steps = np.arange(count)
    return start * np.exp(0.002 * steps) + 1.5 * np.sin((steps + 5) / 2)


def downtrend(count: int = BARS, start: float = 180.0) -> np.ndarray:
    """The mirror image: a steady slide that ends on a downswing."""
    steps = np.arange(count)
    return start * np.exp(-0.002 * steps) + 1.5 * np.sin(steps / 2)


def flat(count: int = BARS, level: float = 100.0) -> np.ndarray:
    """Sideways: a fast, small oscillation around a level with no drift."""
    steps = np.arange(count)
    return level + 0.5 * np.sin(steps * 1.3)


def rsi_dip(count: int = BARS) -> np.ndarray:
    """An uptrend that breaks down hard over the last ten bars (RSI falls below 30)."""
    closes = uptrend(count)
    closes[-10:] = closes[-11] * np.cumprod(np.full(10, 0.975))
    return closes


def _first_cross(fast: np.ndarray, slow: np.ndarray, start: int) -> int:
    for index in range(max(start, 1), len(fast)):
        if fast[index - 1] <= slow[index - 1] and fast[index] > slow[index]:
            return index
    raise AssertionError("the crafted series has no crossing")


def golden_cross() -> np.ndarray:
    """A long decline and a recovery, cut at the bar where SMA50 crosses above SMA200."""
    down = np.linspace(150, 100, 250)
    up = np.linspace(100, 170, 150)
    closes = np.concatenate([down, up]) + 0.2 * np.sin(np.arange(400) / 2)
    sma_50, sma_200 = talib.SMA(closes, 50), talib.SMA(closes, 200)
    return closes[: _first_cross(sma_50, sma_200, 200) + 1]


def macd_bullish_crossover() -> np.ndarray:
    """A decline and a turn, cut at the bar where MACD crosses above its signal line."""
    decline = downtrend(120, 150.0)
    closes = np.concatenate([decline, decline[-1] + np.linspace(0.2, 6.0, 30)])
    macd, signal, _ = talib.MACD(closes, 12, 26, 9)
    return closes[: _first_cross(macd, signal, 100) + 1]


# --- Frames --------------------------------------------------------------------------------


def bars_frame(
    closes: np.ndarray,
    *,
    last_open: datetime,
    timeframe: str,
    volume: float | np.ndarray = 1_000_000.0,
    range_pct: float = 0.004,
) -> pd.DataFrame:
    """Bars with the given closes, ending with the bar that opens at `last_open`.

    Daily bars sit on the XNYS sessions up to `last_open`'s session; intraday bars are evenly
    spaced (sessions are not modelled: these frames test agents, not providers).
    """
    closes = np.asarray(closes, dtype=np.float64)
    count = len(closes)
    if timeframe == "1d":
        last_day = calendar.session_at(last_open) or last_open.astimezone(calendar.NEW_YORK).date()
        days = calendar.sessions_between(last_day - timedelta(days=count * 2 + 10), last_day)[
            -count:
        ]
        index = pd.DatetimeIndex([calendar.session_open_close(day)[0] for day in days])
    else:
        step = TIMEFRAME_DELTAS[timeframe]
        index = pd.DatetimeIndex([last_open - step * (count - 1 - i) for i in range(count)])
    opens = np.concatenate([[closes[0]], closes[:-1]])
    high = np.maximum(opens, closes) * (1 + range_pct)
    low = np.minimum(opens, closes) * (1 - range_pct)
    volumes = np.broadcast_to(np.asarray(volume, dtype=np.float64), (count,))
    frame = pd.DataFrame(
        {"open": opens, "high": high, "low": low, "close": closes, "volume": volumes},
        index=index.tz_convert(UTC) if index.tz is not None else index.tz_localize(UTC),
    )
    frame.index.name = "timestamp"
    return frame


def bar_close(open_time: pd.Timestamp, timeframe: str) -> datetime:
    if timeframe == "1d":
        day = open_time.tz_convert(calendar.NEW_YORK).date()
        return calendar.session_open_close(day)[1]
    return open_time.to_pydatetime() + TIMEFRAME_DELTAS[timeframe]


# --- Providers -----------------------------------------------------------------------------


class ScenarioProvider(MarketDataProvider):
    """Market data from frames the test crafted: {symbol: {timeframe: bars}}.

    `bars` returns the bars closed by `end`; quotes come from `quotes` when given, else from the
    last closed bar of the finest timeframe. Calls are counted so tests can see batching.
    """

    name = "scenario"

    def __init__(
        self,
        frames: dict[str, dict[str, pd.DataFrame]],
        *,
        quotes: dict[str, Quote] | None = None,
        universe: list[str] | None = None,
    ):
        self.frames = frames
        self.fixed_quotes = quotes
        self._universe = universe if universe is not None else list(frames)
        self.bar_calls: list[tuple[str, str, int]] = []
        self.quote_calls: list[list[str]] = []

    def bars(self, symbol: str, timeframe: str, *, end: datetime, limit: int = 300) -> pd.DataFrame:
        self.bar_calls.append((symbol, timeframe, limit))
        return self._closed(symbol, timeframe, end).iloc[-limit:]

    def _closed(self, symbol: str, timeframe: str, end: datetime) -> pd.DataFrame:
        if symbol not in self.frames:
            raise UnknownSymbol(f"unknown symbol {symbol}")
        frame = self.frames[symbol].get(timeframe)
        if frame is None:
            return self._empty()
        closed = [bar_close(stamp, timeframe) <= end for stamp in frame.index]
        return frame[np.asarray(closed, dtype=bool)]

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        self.quote_calls.append(list(symbols))
        if self.fixed_quotes is not None:
            return {s: self.fixed_quotes[s] for s in symbols if s in self.fixed_quotes}
        result = {}
        for symbol in symbols:
            frames = self.frames.get(symbol) or {}
            finest = next((tf for tf in TIMEFRAMES if tf in frames), None)
            bars = self._closed(symbol, finest, at) if finest else self._empty()
            if len(bars):
                price = float(bars["close"].iloc[-1])
                bid, ask = round(price - 0.01, 2), round(price + 0.01, 2)
                result[symbol] = Quote(symbol, price, bid, ask, 1_000, at)
        return result

    def universe(self) -> list[str]:
        return list(self._universe)

    @staticmethod
    def _empty() -> pd.DataFrame:
        return pd.DataFrame(
            {c: pd.Series(dtype=float) for c in ("open", "high", "low", "close", "volume")},
            index=pd.DatetimeIndex([], tz=UTC),
        )


def scenario_provider(
    shapes: dict[str, np.ndarray],
    *,
    now: datetime,
    timeframes: tuple[str, ...] = ("5m", "1h", "4h", "1d"),
    **kwargs,
) -> ScenarioProvider:
    """Every symbol gets the same close shape on every timeframe, all closed by `now`."""
    frames = {}
    for symbol, closes in shapes.items():
        frames[symbol] = {}
        for timeframe in timeframes:
            if timeframe == "1d":
                last_open = datetime.combine(
                    calendar.previous_session(now), datetime.min.time(), calendar.NEW_YORK
                ).replace(hour=12)
            else:
                last_open = now - 2 * TIMEFRAME_DELTAS[timeframe]
            frames[symbol][timeframe] = bars_frame(closes, last_open=last_open, timeframe=timeframe)
    return ScenarioProvider(frames, **kwargs)


class ScenarioNews(NewsProvider):
    name = "scenario"

    def __init__(self, headlines: list[Headline] | None = None):
        self.items = list(headlines or [])

    def headlines(self, symbols: list[str], *, since: datetime, until: datetime) -> list[Headline]:
        return [h for h in self.items if h.symbol in symbols and since <= h.published_at <= until]


def headline(symbol: str, text: str, published_at: datetime, summary: str = "") -> Headline:
    slug = "-".join(text.lower().split())[:40]
    return Headline(symbol, text, summary, "Wire", f"https://news.test/{slug}", published_at)


# --- Accounts ------------------------------------------------------------------------------


class PaperAccount(ValidationExecutor):
    """A validation account with chosen equity, buying power and open positions."""

    def __init__(
        self,
        *,
        equity: Decimal = Decimal("100000"),
        buying_power: Decimal | None = None,
        positions: list[PositionSnapshot] | None = None,
    ):
        super().__init__(initial_balance=equity)
        self.buying_power = equity if buying_power is None else buying_power
        self.open_positions = list(positions or [])

    def account(self) -> AccountSnapshot:
        return AccountSnapshot(
            equity=self.initial_balance, cash=self.buying_power, buying_power=self.buying_power
        )

    def positions(self) -> list[PositionSnapshot]:
        return list(self.open_positions)


class FillingBroker(PaperAccount):
    """An executor that 'sends' orders and fills them a few cents from the entry."""

    mode = "PAPER"
    sends_orders = True

    def __init__(self, *, fill_offset: Decimal = Decimal("0.02"), reject: set[str] | None = None):
        super().__init__()
        self.fill_offset = fill_offset
        self.reject = reject or set()

    def submit_bracket(self, request: BracketOrderRequest) -> OrderResult:
        self.recorded.append(request)
        if request.symbol in self.reject:
            return OrderResult(request.client_order_id, "rejected", message="Not tradable")
        direction = 1 if request.side == "buy" else -1
        return OrderResult(
            client_order_id=request.client_order_id,
            status="filled",
            broker_order_id=f"broker-{len(self.recorded)}",
            filled_quantity=request.quantity,
            filled_price=request.entry_price + direction * self.fill_offset,
            commission=Decimal("1.00"),
        )
