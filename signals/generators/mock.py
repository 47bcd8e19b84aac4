"""The mock generator: random signals for demo tickers, so a demo shows signals arriving."""

from __future__ import annotations

import random
from datetime import datetime

from signals.generators.base import SignalGenerator, signal_make
from signals.schemas import Direction, SignalMessage

DEMO_TICKERS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM")


class MockGenerator(SignalGenerator):
    """One made-up signal per interval (type "mock", source "mock") on a random watched ticker.
    Only built in a demo (DEBUG) or with SIGNAL_MOCK_ENABLED: it is not market information."""

    name = "mock"
    signal_types = ("mock",)
    default_interval = 15.0

    def __init__(self, *, interval: float | None = None, rng: random.Random | None = None):
        super().__init__(interval=interval)
        self.rng = rng or random.Random()  # noqa: S311 - demo data, not security

    def scan(self, *, tickers: list[str], now: datetime) -> list[SignalMessage]:
        ticker = self.rng.choice(list(tickers) or list(DEMO_TICKERS))
        direction = self.rng.choice([Direction.BULLISH, Direction.BEARISH, Direction.NEUTRAL])
        return [
            signal_make(
                source=self.name,
                signal_type="mock",
                signal_id=f"mock_{int(now.timestamp())}_{ticker}_{self.rng.getrandbits(32):08x}",
                now=now,
                ticker=ticker,
                direction=direction,
                confidence=self.rng.uniform(40, 100),
            )
        ]
