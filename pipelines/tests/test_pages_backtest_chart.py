"""A backtest's candlestick chart: every trade's entry and exit marked (the exit with why), its
stop and targets drawn over the bars it was open, the last trade's levels as price lines."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pipelines.backtest.checks import BacktestSettings
from pipelines.backtest.services import backtest_create, backtest_run
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import BacktestTrade
from trading.marketdata.datasets import dataset_create_from_provider
from trading.marketdata.synthetic import SyntheticProvider

pytestmark = pytest.mark.django_db


def test_it_marks_entries_exits_stops_and_targets(owner, owner_client):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="golden_cross_1d")
    dataset = dataset_create_from_provider(
        owner=owner,
        provider=SyntheticProvider(seed=42),
        source="synthetic",
        symbol="AAPL",
        timeframe="4h",  # its bias reads 4h and 1d bars
        start=datetime(2023, 1, 1, tzinfo=UTC),
        end=datetime(2025, 12, 31, tzinfo=UTC),
    )
    backtest = backtest_create(
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        settings=BacktestSettings(commission_per_share=Decimal("0.005")),
        enqueue=False,
    )
    backtest_run(backtest_id=backtest.pk)

    html = owner_client.get(f"/backtests/{backtest.pk}/").content.decode()

    block = re.search(
        r'<script id="backtest-charts-data" type="application/json">(.*?)</script>', html
    )
    (chart,) = json.loads(block.group(1))
    trades = list(BacktestTrade.objects.filter(backtest=backtest).order_by("entry_bar"))
    assert trades and len(chart["candles"]["4h"]) == dataset.bar_count  # all under 1,500 bars
    entries = [m for m in chart["markers"] if m["text"].startswith("long ")]
    exits = [m for m in chart["markers"] if not m["text"].startswith("long ")]
    assert len(entries) == len(trades)
    assert len(exits) == sum(1 for t in trades if not t.is_open)
    assert {m["text"] for m in exits} <= {"stop", "T1", "T2", "EOD", "exit"}
    stops = [s for s in chart["segments"] if s["kind"] == "stop"]
    assert [s["price"] for s in stops] == [float(t.stop_loss) for t in trades]
    assert [s["from"] for s in stops] == [int(t.entry_at.timestamp()) for t in trades]
    closed = [t for t in trades if not t.is_open]
    assert [s["to"] for s in stops[: len(closed)]] == [int(t.exit_at.timestamp()) for t in closed]
    assert sum(1 for s in chart["segments"] if s["kind"] == "target_1") == len(trades)
    assert {level["title"] for level in chart["levels"]} == {"Stop", "T1", "T2", "Entry"}
