"""The generator interface, a base for generators that read bars and indicators, and helpers."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from datetime import datetime
from typing import ClassVar

import pandas as pd

from signals.schemas import Direction, SignalMessage, TickerSignal
from trading.indicators import compute_indicators, latest_values
from trading.marketdata.base import MarketDataError, MarketDataProvider

logger = logging.getLogger(__name__)

Detection = tuple[str, Direction, float]  # (signal_type, direction, confidence)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def signal_make(
    *,
    source: str,
    signal_type: str,
    signal_id: str,
    now: datetime,
    ticker: str,
    direction: Direction,
    confidence: float,
) -> SignalMessage:
    return SignalMessage(
        timestamp=int(now.timestamp()),
        source=source,
        signal_id=signal_id,
        signal_type=signal_type,
        tickers=[TickerSignal(ticker=ticker, signal=direction, confidence=round(confidence, 1))],
    )


class SignalGenerator(ABC):
    """Scans tickers at a moment and returns the signals it finds. Generators are stateless
    between scans; the runner drops a signal id it already published, so a condition that
    holds for a whole bar is announced once."""

    name: ClassVar[str]
    signal_types: ClassVar[tuple[str, ...]]
    default_interval: ClassVar[float] = 300.0

    def __init__(self, *, interval: float | None = None):
        self.interval = float(interval or self.default_interval)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(every {self.interval:g}s)"

    @abstractmethod
    def scan(self, *, tickers: list[str], now: datetime) -> list[SignalMessage]: ...


class BarsGenerator(SignalGenerator):
    """A generator that looks at the last closed bars of one timeframe and their indicators.
    Subclasses say which (timeframe, indicators, bars) and implement `detect`."""

    timeframe: ClassVar[str]
    indicators: ClassVar[tuple[str, ...]] = ()
    bars_needed: ClassVar[int]  # the fewest bars for detect to have both rows it compares
    bars_fetched: ClassVar[int]

    def __init__(self, *, market_data: MarketDataProvider, interval: float | None = None):
        super().__init__(interval=interval)
        self.market_data = market_data

    def scan(self, *, tickers: list[str], now: datetime) -> list[SignalMessage]:
        found: list[SignalMessage] = []
        for ticker in tickers:
            try:
                bars = self.market_data.bars(
                    ticker, self.timeframe, end=now, limit=self.bars_fetched
                )
            except MarketDataError as error:
                logger.debug("%s: no bars for %s: %s", self.name, ticker, error)
                continue
            if len(bars) < self.bars_needed:
                continue
            frame = compute_indicators(bars, self.indicators, timeframe=self.timeframe)
            latest, previous = latest_values(frame)
            # The bar's open time names the event: the same bar scanned again gives the same id.
            stamp = pd.Timestamp(bars.index[-1]).strftime("%Y%m%d%H%M")
            for signal_type, direction, confidence in self.detect(bars, latest, previous):
                found.append(
                    signal_make(
                        source=self.name,
                        signal_type=signal_type,
                        signal_id=f"{signal_type}_{stamp}_{ticker}",
                        now=now,
                        ticker=ticker,
                        direction=direction,
                        confidence=confidence,
                    )
                )
        return found

    @abstractmethod
    def detect(
        self, bars: pd.DataFrame, latest: dict[str, float | None], previous: dict[str, float | None]
    ) -> list[Detection]:
        """Signals on the last closed bar; `latest` and `previous` are indicator rows."""
