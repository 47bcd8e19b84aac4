"""Factories for signal tests: scanners, signal-driven pipelines, and §17.2 signal bodies."""

from __future__ import annotations

import itertools
import time
import uuid

import factory

from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import Pipeline, PipelineStatus, RunMode
from signals.models import Scanner


class ScannerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scanner

    name = factory.Sequence(lambda n: f"Scanner {n}")
    tickers = factory.LazyFunction(lambda: ["AAPL"])


_pipeline_numbers = itertools.count(1)


def signal_pipeline(
    *,
    owner,
    tickers: list[str] | None = None,
    subscriptions: list[tuple[str, float]] | None = None,
    scanner: Scanner | None = None,
    name: str | None = None,
    status: str = PipelineStatus.ACTIVE,
    run_mode: str = RunMode.RUN_ON_SIGNAL,
) -> Pipeline:
    """An active, signal-driven pipeline watching a scanner (a new one with `tickers` unless
    one is given), subscribed to `subscriptions` [(signal_type, min_confidence)]."""
    if scanner is None:
        scanner = ScannerFactory(owner=owner, tickers=tickers or ["AAPL"])
    # Names are unique per owner; without one, each pipeline gets its own.
    name = name or f"Signal pipeline {next(_pipeline_numbers)}"
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m", name=name)
    pipeline.scanner = scanner
    pipeline.signal_subscriptions = [
        {"signal_type": signal_type, "min_confidence": minimum}
        for signal_type, minimum in (subscriptions or [("golden_cross", 0)])
    ]
    pipeline.run_mode = run_mode
    pipeline.status = status
    pipeline.save()
    return pipeline


def signal_body(
    *,
    signal_type: str = "golden_cross",
    tickers: list[tuple[str, float]] | None = None,
    signal_id: str | None = None,
    source: str | None = None,
    direction: str = "BULLISH",
) -> dict:
    """A §17.2 signal."""
    now = int(time.time())
    tickers = tickers or [("AAPL", 85.5)]
    return {
        "timestamp": now,
        "source": source or signal_type,
        "signal_id": signal_id or f"{signal_type}_{now}_{uuid.uuid4().hex[:8]}",
        "signal_type": signal_type,
        "tickers": [
            {"ticker": ticker, "signal": direction, "confidence": confidence}
            for ticker, confidence in tickers
        ],
    }
