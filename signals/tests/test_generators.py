"""Generators: crossings detected on real bars (CSV provider), news sentiment with its scorer
seam, the mock generator's demo-only switch, and the runner publishing each signal once."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from django.test import override_settings

from signals import metrics
from signals.generators.mock import MockGenerator
from signals.generators.news import NewsSentimentGenerator, sentiment_scorer_load
from signals.generators.runner import GeneratorRunner, generators_build
from signals.generators.technical import (
    GoldenCrossGenerator,
    RsiGenerator,
    VolumeSpikeGenerator,
)
from signals.schemas import Direction
from trading.calendar import session_open_close, sessions_between
from trading.clock import ManualClock
from trading.marketdata.base import Headline, NewsProvider
from trading.marketdata.csv_provider import CsvProvider
from trading.marketdata.news import score_headline_sentiment


def _write_daily(folder, symbol: str, closes: np.ndarray, volumes: np.ndarray) -> list[date]:
    days = sessions_between(date(2025, 1, 2), date(2026, 12, 31))[: len(closes)]
    frame = pd.DataFrame(
        {
            "timestamp": [d.isoformat() for d in days],
            "open": closes * 0.995,
            "high": closes * 1.01,
            "low": closes * 0.99,
            "close": closes,
            "volume": volumes,
        }
    )
    frame.to_csv(folder / f"{symbol}_1d.csv", index=False)
    return days


def _golden_cross_series() -> tuple[np.ndarray, int]:
    """A slow decline then a rally; returns the closes and the bar where SMA 50 crosses
    above SMA 200."""
    closes = np.concatenate([np.linspace(120, 90, 220), np.linspace(90, 140, 120)])
    sma50 = pd.Series(closes).rolling(50).mean().to_numpy()
    sma200 = pd.Series(closes).rolling(200).mean().to_numpy()
    for i in range(200, len(closes)):
        if sma50[i - 1] <= sma200[i - 1] and sma50[i] > sma200[i]:
            return closes, i
    raise AssertionError("no cross in the series")


def _after_close(day: date) -> datetime:
    return session_open_close(day)[1] + timedelta(minutes=1)


def test_golden_cross_fires_on_the_crossing_bar_only(tmp_path):
    closes, cross = _golden_cross_series()
    volumes = np.full(len(closes), 1_000_000.0)
    volumes[cross] = 2_000_000.0
    days = _write_daily(tmp_path, "AAPL", closes, volumes)
    generator = GoldenCrossGenerator(market_data=CsvProvider(tmp_path))

    [signal] = generator.scan(tickers=["AAPL", "MISSING"], now=_after_close(days[cross]))
    before = generator.scan(tickers=["AAPL"], now=_after_close(days[cross - 1]))
    after = generator.scan(tickers=["AAPL"], now=_after_close(days[cross + 1]))

    assert (signal.signal_type, signal.source) == ("golden_cross", "golden_cross")
    [entry] = signal.tickers
    assert (entry.ticker, entry.signal) == ("AAPL", Direction.BULLISH)
    # Twice the average volume gives the full volume part (+20) on top of 50 and the spread.
    assert 70 <= entry.confidence <= 100
    # Named after the bar (its open time), so scanning that bar again gives the same id.
    assert signal.signal_id.startswith(f"golden_cross_{days[cross]:%Y%m%d}")
    assert signal.signal_id.endswith("_AAPL")
    assert before == [] and after == []


def test_death_cross_is_bearish(tmp_path):
    closes, cross = _golden_cross_series()
    mirrored = 260 - closes  # the same path upside down
    days = _write_daily(tmp_path, "MSFT", mirrored, np.full(len(closes), 1e6))

    [signal] = GoldenCrossGenerator(market_data=CsvProvider(tmp_path)).scan(
        tickers=["MSFT"], now=_after_close(days[cross])
    )

    assert signal.signal_type == "death_cross"
    assert signal.tickers[0].signal == Direction.BEARISH


def test_rsi_and_volume_spike_detect_their_crossings():
    rsi = RsiGenerator.__new__(RsiGenerator)
    assert rsi.detect(None, {"rsi_14": 25.0}, {"rsi_14": 31.0}) == [
        ("rsi_oversold", Direction.BULLISH, 62.5)
    ]
    assert rsi.detect(None, {"rsi_14": 75.0}, {"rsi_14": 69.0})[0][:2] == (
        "rsi_overbought",
        Direction.BEARISH,
    )
    assert rsi.detect(None, {"rsi_14": 25.0}, {"rsi_14": 27.0}) == []  # already oversold

    bars = pd.DataFrame({"open": [10.0], "close": [11.0], "volume": [3_000.0]})
    spike = VolumeSpikeGenerator.__new__(VolumeSpikeGenerator)
    assert spike.detect(bars, {}, {"avg_volume_20": 1_000.0}) == [
        ("volume_spike", Direction.BULLISH, 55.0)
    ]
    assert spike.detect(bars, {}, {"avg_volume_20": 2_000.0}) == []


class _FixedNews(NewsProvider):
    name = "fixed"

    def __init__(self, headlines):
        self.items = headlines

    def headlines(self, symbols, *, since, until):
        return [h for h in self.items if h.symbol in symbols and since <= h.published_at < until]


def _headline(symbol, text, at, n=0):
    return Headline(symbol, text, "", "Wire", f"https://news.example.com/{symbol}/{n}", at)


def test_news_sentiment_scores_the_last_hour_per_ticker():
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    news = _FixedNews(
        [
            _headline(
                "AAPL",
                "Apple beats earnings estimates and raises guidance",
                now - timedelta(minutes=5),
            ),
            _headline(
                "MSFT", "Microsoft hit with lawsuit, shares tumble", now - timedelta(minutes=9)
            ),
            _headline("NVDA", "Nvidia to present at conference", now - timedelta(minutes=9)),
            _headline("TSLA", "Tesla shares surge", now - timedelta(hours=2)),  # too old
        ]
    )

    signals = NewsSentimentGenerator(news=news).scan(
        tickers=["AAPL", "MSFT", "NVDA", "TSLA"], now=now
    )

    by_ticker = {s.tickers[0].ticker: s for s in signals}
    assert set(by_ticker) == {"AAPL", "MSFT"}
    assert by_ticker["AAPL"].tickers[0].signal == Direction.BULLISH
    assert by_ticker["MSFT"].tickers[0].signal == Direction.BEARISH
    assert all(s.signal_type == "news_sentiment" for s in signals)


def test_the_sentiment_scorer_is_pluggable():
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    news = _FixedNews(
        [_headline("NVDA", "Nvidia to present at conference", now - timedelta(minutes=1))]
    )

    [signal] = NewsSentimentGenerator(news=news, scorer=lambda text: -0.8).scan(
        tickers=["NVDA"], now=now
    )

    assert signal.tickers[0].signal == Direction.BEARISH
    assert signal.tickers[0].confidence == 90.0
    assert sentiment_scorer_load("") is score_headline_sentiment
    assert sentiment_scorer_load("trading.marketdata.news.score_headline_sentiment") is (
        score_headline_sentiment
    )


@override_settings(DEBUG=False, SIGNAL_MOCK_ENABLED=False)
def test_the_mock_generator_runs_only_in_a_demo():
    assert "mock" not in [g.name for g in generators_build(names=["mock", "rsi"])]
    with override_settings(SIGNAL_MOCK_ENABLED=True):
        assert "mock" in [g.name for g in generators_build(names=["mock"])]
    with override_settings(DEBUG=True):
        assert "mock" in [g.name for g in generators_build(names=["mock"])]


@override_settings(SIGNAL_GENERATOR_INTERVALS="rsi=120, golden_cross=600")
def test_intervals_are_configurable():
    built = {g.name: g.interval for g in generators_build(names=["rsi", "golden_cross", "macd"])}

    assert built == {"rsi": 120.0, "golden_cross": 600.0, "macd": 300.0}


@pytest.mark.django_db
def test_the_runner_publishes_due_signals_once_and_counts_them(bus):
    clock = ManualClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    mock = MockGenerator(interval=10, rng=random.Random(7))
    repeat = _Repeating()
    runner = GeneratorRunner(
        generators=[mock, repeat], bus=bus, clock=clock, tickers=lambda: ["AAPL", "MSFT"]
    )
    generated = metrics.signals_generated.labels(signal_type="mock")
    before = generated._value.get()

    first = runner.run_due()
    clock.advance(timedelta(seconds=5))
    not_due = runner.run_due()
    clock.advance(timedelta(seconds=5))
    second = runner.run_due()

    assert [s.signal_type for s in first] == ["mock", "volume_spike"]
    assert not_due == []
    # The repeating generator found the same bar again: not published twice.
    assert [s.signal_type for s in second] == ["mock"]
    assert bus.client.xlen(bus.stream) == 3
    assert generated._value.get() - before == 2
    assert {s.tickers[0].ticker for s in first + second} <= {"AAPL", "MSFT"}


class _Repeating(VolumeSpikeGenerator):
    """Finds the same spike on every scan, as a real generator does until the next bar."""

    def __init__(self):
        self.interval = 1.0

    def scan(self, *, tickers, now):
        from signals.generators.base import signal_make

        return [
            signal_make(
                source=self.name,
                signal_type="volume_spike",
                signal_id="volume_spike_202611241445_AAPL",
                now=now,
                ticker="AAPL",
                direction=Direction.BULLISH,
                confidence=70,
            )
        ]


@override_settings(DEBUG=True)
def test_every_generated_signal_type_has_a_generator_on_by_default():
    from signals.catalog import SIGNAL_TYPES

    produced = {t for g in generators_build() for t in g.signal_types}

    assert produced == {key for key, t in SIGNAL_TYPES.items() if t.generated}
