"""The market-data provider interface every provider implements, and the value types it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d")
TIMEFRAME_DELTAS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
BAR_COLUMNS = ("open", "high", "low", "close", "volume")


class MarketDataError(Exception):
    """A provider could not answer (unknown symbol, upstream error, no data)."""


class UnknownSymbol(MarketDataError):
    pass


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: float
    bid: float
    ask: float
    volume: int
    timestamp: datetime


@dataclass(frozen=True)
class Headline:
    symbol: str
    headline: str
    summary: str
    source: str
    url: str
    published_at: datetime
    tags: tuple[str, ...] = field(default_factory=tuple)


def validate_timeframe(timeframe: str) -> str:
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAMES)}")
    return timeframe


class MarketDataProvider(ABC):
    """Bars per symbol x timeframe and latest quotes for many symbols in one call.

    Bars are a pandas DataFrame indexed by the bar's open time (tz-aware UTC DatetimeIndex,
    ascending) with float columns open/high/low/close/volume, holding only bars that have
    *closed* at or before `end` (the clock's now by default), at most `limit` of them.
    Intraday bars exist only inside exchange sessions. Providers are safe to share across threads.
    """

    name: str = "base"

    @abstractmethod
    def bars(
        self, symbol: str, timeframe: str, *, end: datetime, limit: int = 300
    ) -> pd.DataFrame: ...

    @abstractmethod
    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        """Latest quote per symbol at `at`; unknown symbols are left out of the result."""

    def universe(self) -> list[str]:
        """Symbols a screener may scan; providers without a catalogue return an empty list."""
        return []


class NewsProvider(ABC):
    name: str = "base"

    @abstractmethod
    def headlines(
        self, symbols: list[str], *, since: datetime, until: datetime
    ) -> list[Headline]: ...
