"""The `generators` process: builds the enabled generators and runs each on its interval,
publishing what they find to the bus. One process serves every tenant's pipelines."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import close_old_connections

from config.core import tracing
from signals import conf, metrics, selectors, services
from signals.bus import RedisStreamBus, SignalBus
from signals.generators.base import SignalGenerator
from signals.generators.mock import MockGenerator
from signals.generators.news import NewsSentimentGenerator, sentiment_scorer_load
from signals.generators.technical import (
    BollingerGenerator,
    BreakoutGenerator,
    GoldenCrossGenerator,
    MacdGenerator,
    RsiGenerator,
    VolumeSpikeGenerator,
)
from signals.schemas import SignalMessage
from trading.clock import Clock, SystemClock
from trading.marketdata.base import MarketDataProvider, NewsProvider
from trading.marketdata.registry import market_data_provider, news_provider

logger = logging.getLogger(__name__)

BAR_GENERATORS: dict[str, type] = {
    cls.name: cls
    for cls in (
        GoldenCrossGenerator,
        RsiGenerator,
        VolumeSpikeGenerator,
        MacdGenerator,
        BollingerGenerator,
        BreakoutGenerator,
    )
}
GENERATOR_NAMES = ("mock", *BAR_GENERATORS, NewsSentimentGenerator.name)
TICKERS_TTL = timedelta(seconds=60)
# How long a published signal id is remembered: a daily-bar crossing stays on the last bar over
# a weekend, and scanning it again must not announce it again.
REMEMBER_PUBLISHED = timedelta(days=4)


def generators_build(
    *,
    names: list[str] | None = None,
    market_data: MarketDataProvider | None = None,
    news: NewsProvider | None = None,
) -> list[SignalGenerator]:
    """The generators named in SIGNAL_GENERATORS (the mock one only in a demo)."""
    names = conf.enabled_generators() if names is None else names
    intervals = conf.generator_intervals()
    unknown = sorted(set(names) - set(GENERATOR_NAMES))
    if unknown:
        logger.warning("generators: unknown %s (known: %s)", unknown, ", ".join(GENERATOR_NAMES))
    built: list[SignalGenerator] = []
    for name in names:
        interval = intervals.get(name)
        if name == "mock":
            if conf.mock_enabled():
                built.append(MockGenerator(interval=interval))
        elif name in BAR_GENERATORS:
            built.append(
                BAR_GENERATORS[name](
                    market_data=market_data or market_data_provider(), interval=interval
                )
            )
        elif name == NewsSentimentGenerator.name:
            built.append(
                NewsSentimentGenerator(
                    news=news or news_provider(),
                    scorer=sentiment_scorer_load(conf.news_sentiment_scorer()),
                    interval=interval,
                )
            )
    return built


def watched_tickers() -> list[str]:
    return selectors.watched_tickers(
        watchlist=conf.default_watchlist(), limit=conf.max_scan_tickers()
    )


@dataclass
class _Slot:
    generator: SignalGenerator
    next_run: datetime


class GeneratorRunner:
    """Runs due generators at the clock's time, drops signal ids it already published (a
    crossing stays on the last bar until the next one closes), and publishes the rest."""

    def __init__(
        self,
        *,
        generators: list[SignalGenerator],
        bus: SignalBus | None = None,
        clock: Clock | None = None,
        tickers: Callable[[], list[str]] = watched_tickers,
        remember: timedelta | None = None,
    ):
        self.bus = bus or RedisStreamBus()
        self.clock = clock or SystemClock()
        self._tickers_source = tickers
        self._tickers: list[str] = []
        self._tickers_until: datetime | None = None
        self._remember = remember or REMEMBER_PUBLISHED
        self._published: dict[str, datetime] = {}
        now = self.clock.now()
        self._next_prune = now
        self._slots = [_Slot(generator, now) for generator in generators]

    @property
    def generators(self) -> list[SignalGenerator]:
        return [slot.generator for slot in self._slots]

    def tickers(self, now: datetime) -> list[str]:
        if self._tickers_until is None or now >= self._tickers_until:
            self._tickers = self._tickers_source()
            self._tickers_until = now + TICKERS_TTL
        return self._tickers

    def run_due(self, stop: threading.Event | None = None) -> list[SignalMessage]:
        """Run every generator whose time has come; returns the signals published. With `stop`
        set (SIGTERM) it returns after the generator in hand instead of starting the next."""
        now = self.clock.now()
        published: list[SignalMessage] = []
        for slot in self._slots:
            if stop is not None and stop.is_set():
                break
            if now < slot.next_run:
                continue
            slot.next_run = now + timedelta(seconds=slot.generator.interval)
            try:
                found = slot.generator.scan(tickers=self.tickers(now), now=now)
            except Exception:
                # One broken generator (a provider outage) must not stop the others.
                logger.exception("generator %s failed", slot.generator.name)
                continue
            for signal in found:
                if signal.signal_id in self._published:
                    continue
                metrics.signals_generated.labels(signal_type=signal.signal_type).inc()
                try:
                    services.signal_publish(bus=self.bus, signal=signal)
                except Exception as error:
                    # Not remembered: the next scan finds it again and retries.
                    logger.warning("generator %s: publish failed: %s", slot.generator.name, error)
                    continue
                self._published[signal.signal_id] = now + self._remember
                published.append(signal)
        self._forget(now)
        return published

    def seconds_until_due(self) -> float:
        now = self.clock.now()
        return max(0.0, min((s.next_run - now).total_seconds() for s in self._slots))

    def _forget(self, now: datetime) -> None:
        if now >= self._next_prune:
            self._published = {k: v for k, v in self._published.items() if v > now}
            self._next_prune = now + timedelta(minutes=10)

    def run_forever(self, stop: threading.Event) -> None:
        logger.info("generators: %s", ", ".join(map(repr, self.generators)) or "none enabled")
        while not stop.is_set():
            self.run_due(stop)
            close_old_connections()  # a long-lived process outside requests
            # Wake at the next due generator, and at least every 5 s to notice `stop`.
            stop.wait(max(0.05, min(self.seconds_until_due(), 5.0)) if self._slots else 60)


def generators_run(*, stop: threading.Event) -> None:
    """The `generators` process: metrics on their port, then every generator until `stop`."""
    metrics.metrics_serve(port=conf.generators_metrics_port(), addr=conf.metrics_addr())
    tracing.tracing_configure(service="generators")
    GeneratorRunner(generators=generators_build()).run_forever(stop)
