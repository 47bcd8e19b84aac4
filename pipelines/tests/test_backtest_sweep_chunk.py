"""A sweep chunk's shared work changes no result: combinations replayed on one History share its
indicators, and a chunk's results written in one go equal each backtest run and written alone."""

from __future__ import annotations

import copy
from decimal import Decimal

import numpy as np
import pytest
from backtesting.test import GOOG

from pipelines.backtest import histories
from pipelines.backtest.checks import BacktestSettings
from pipelines.backtest.engine import Costs, run_backtest
from pipelines.backtest.plan import plan_from_pipeline
from pipelines.backtest.services import backtest_run
from pipelines.backtest.sweep_services import backtest_chunk_run, sweep_create
from pipelines.models import Backtest, BacktestStatus, BacktestTrade, Pipeline
from pipelines.tests.test_backtest_api import goog_csv
from pipelines.tests.test_backtest_engine import SMA_CROSS_GRAPH, history_of
from trading.marketdata.datasets import dataset_create_from_csv

GRID = {
    "risk.equity_fraction_pct": [50, 100],
    "trade.exit_conditions": [
        [
            {
                "indicator": "sma_10",
                "operator": "crosses_below",
                "compare_to": f"sma_{slow}",
                "timeframe": "1d",
            }
        ]
        for slow in (20, 30)
    ],
}


def graph_exiting_below(slow: int) -> dict:
    graph = copy.deepcopy(SMA_CROSS_GRAPH)
    graph["nodes"][2]["config"]["exit_conditions"][0]["compare_to"] = f"sma_{slow}"
    return graph


def test_it_computes_a_shared_indicator_once_and_trades_as_a_fresh_history_would():
    shared = history_of(GOOG, "GOOG", "1d")
    costs = Costs(initial_cash=10_000, commission_pct=0.2)
    run_backtest(
        shared, plan_from_pipeline(graph=SMA_CROSS_GRAPH, schedule=None, timeframe="1d"), costs
    )
    computed = {key: value for key, value in shared.memo.items() if key[0] == "indicator"}
    plan = plan_from_pipeline(graph=graph_exiting_below(30), schedule=None, timeframe="1d")

    on_shared = run_backtest(shared, plan, costs)
    alone = run_backtest(history_of(GOOG, "GOOG", "1d"), plan, costs)

    assert len(computed) == 2  # SMA(10) and SMA(20), from the first combination
    for key, columns in computed.items():
        assert shared.memo[key] is columns  # reused by the second, not recomputed
    assert on_shared.trades == alone.trades
    assert len(alone.trades) > 10
    np.testing.assert_array_equal(on_shared.equity, alone.equity)


@pytest.fixture
def goog(owner):
    return dataset_create_from_csv(owner=owner, name="", symbol="GOOG", content=goog_csv())


def _sweep_backtests(owner, goog) -> list[Backtest]:
    pipeline = Pipeline.objects.create(owner=owner, name="SMA cross", graph=SMA_CROSS_GRAPH)
    sweep = sweep_create(
        owner=owner,
        pipeline=pipeline,
        dataset=goog,
        grid=GRID,
        settings=BacktestSettings(commission_pct=Decimal("0.2")),
        chunk_size=4,
    )
    return list(Backtest.objects.filter(sweep=sweep).order_by("parameters"))


def _trades(backtest: Backtest) -> list[tuple]:
    fields = [f.attname for f in BacktestTrade._meta.concrete_fields]
    fields = [name for name in fields if name not in ("id", "backtest_id")]
    return list(
        BacktestTrade.objects.filter(backtest=backtest).order_by("entry_bar").values_list(*fields)
    )


def _outcome(backtest: Backtest) -> tuple:
    backtest.refresh_from_db()
    metrics = {k: v for k, v in backtest.metrics.items() if "second" not in k}
    return (
        backtest.status,
        backtest.bars_done,
        backtest.final_equity,
        backtest.trades_count,
        backtest.equity,
        backtest.daily_equity,
        metrics,
        _trades(backtest),
    )


def test_it_writes_a_chunks_results_as_each_backtest_run_alone_writes_them(owner, goog):
    chunked = _sweep_backtests(owner, goog)
    alone = _sweep_backtests(owner, goog)

    statuses = backtest_chunk_run(backtest_ids=[str(b.pk) for b in chunked])
    for backtest in alone:
        histories._ranges.clear()  # each one on a fresh history, as a worker's first would
        backtest_run(backtest_id=backtest.pk)

    assert statuses == [BacktestStatus.COMPLETED] * 4
    assert [b.parameters for b in chunked] == [b.parameters for b in alone]
    outcomes = [_outcome(b) for b in chunked]
    assert outcomes == [_outcome(b) for b in alone]
    assert len({outcome[2] for outcome in outcomes}) == 4  # four different results
    assert all(outcome[7] for outcome in outcomes)
    assert chunked[0].sweep.status == BacktestStatus.COMPLETED
