"""A custom strategy approved in admin runs in a backtest: in the real sandbox, one call per
chunk of bars, its BUY opening positions with the stop and targets it sets; hand-computed on
five-minute bars of November 2026."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from agents.custom.services import strategy_approve, strategy_create, strategy_submit
from agents.models import CustomStrategyStatus
from pipelines.backtest.checks import BacktestRefused, BacktestSettings
from pipelines.backtest.custom import strategy_signals
from pipelines.backtest.engine import Costs, History, run_backtest
from pipelines.backtest.plan import plan_from_pipeline
from pipelines.backtest.services import backtest_create, backtest_run
from pipelines.models import Backtest, BacktestStatus, BacktestTrade, Pipeline
from trading import calendar
from trading.marketdata.datasets import dataset_create_from_csv

pytestmark = pytest.mark.django_db(transaction=True)

# BUY when the close crosses above 100.50, stop 2.00 under the close, one target 3.00 over it
# (the second, 3R, comes from the shared rule: entry + 3 × 2.00).
CROSS_UP = """\
PARAMS = {"level": 100.5}
INDICATORS = ["SMA_5"]
TIMEFRAMES = ["5m"]


def strategy(bars, indicators, position, params):
    close = bars["5m"]["close"]
    if len(close) < 2:
        return {"signal": "HOLD", "reason": "one bar"}
    if close[-2] <= params["level"] and close[-1] > params["level"]:
        return {
            "signal": "BUY",
            "stop_loss": close[-1] - 2,
            "targets": [close[-1] + 3],
            "reason": "crossed up",
        }
    return {"signal": "HOLD", "reason": "no cross"}
"""
BARS = 600
CROSSES = (100, 450)  # bars closing at 101.00 after 100.00
STOP_BAR = 200  # closes at 98.50: its low, 98.30, reaches the 99.00 stop


def five_minute_seconds(count: int) -> np.ndarray:
    seconds: list[int] = []
    day = date(2026, 11, 2)  # a Monday session
    while len(seconds) < count:
        opens, closes = calendar.session_open_close(day)
        seconds.extend(range(int(opens.timestamp()), int(closes.timestamp()), 300))
        day = calendar.next_session(day)
    return np.asarray(seconds[:count], dtype=np.int64)


def history() -> History:
    close = np.full(BARS, 100.0)
    close[list(CROSSES)] = 101.0
    close[STOP_BAR] = 98.5
    open_ = np.r_[close[0], close[:-1]]
    return History(
        "TEST",
        "5m",
        five_minute_seconds(BARS),
        open_,
        np.maximum(open_, close) + 0.2,
        np.minimum(open_, close) - 0.2,
        close,
        np.full(BARS, 1000.0),
    )


def custom_graph(lineage) -> dict:
    return {
        "nodes": [
            {
                "id": "clock",
                "agent_type": "time_trigger",
                "config": {"schedule": {"type": "market_hours", "offset_minutes": 0}},
            },
            {"id": "mine", "agent_type": "custom_strategy", "config": {"strategy": str(lineage)}},
            {
                "id": "risk",
                "agent_type": "risk_manager_agent",
                "config": {"sizing_method": "fixed_quantity", "fixed_quantity": 10},
            },
        ],
        "edges": [],
    }


@pytest.fixture
def strategy(no_llm, owner, reviewer):
    created = strategy_create(owner=owner, name="Cross up", description="Buy.", code=CROSS_UP)
    created = strategy_submit(strategy=created)
    assert created.status == CustomStrategyStatus.PENDING_REVIEW, created.rejection_reasons
    return strategy_approve(strategy_id=created.pk, reviewer=reviewer, code_hash=created.code_hash)


def test_it_asks_the_sandbox_once_per_chunk_and_trades_its_signals(strategy):
    graph = custom_graph(strategy.lineage)
    plan = plan_from_pipeline(graph=graph, schedule=None, timeframe="5m")
    bars = history()

    signals = strategy_signals(strategy, graph["nodes"][1], bars, chunk_bars=100)
    result = run_backtest(bars, plan, Costs(initial_cash=100_000), signals=signals)

    # Bars 1…599 evaluated, 100 a call: six sandbox calls for 599 answers.
    assert signals.calls == 6
    assert np.flatnonzero(signals.side).tolist() == list(CROSSES)
    first, second = result.trades
    # The 101.00 cross fills at the next bar's 101.00 open; stop 99.00, targets 104.00 and
    # 107.00 (3R). Bar 200 opens at 100.00 and its low reaches the stop: out at 99.00.
    assert (first.entry_bar, first.entry_price, first.quantity) == (101, 101.0, 10)
    assert (first.stop_loss, first.target_1, first.target_2) == (99.0, 104.0, 107.0)
    assert (first.exit_bar, first.exit_price, first.close_reason) == (200, 99.0, "stop_hit")
    assert first.net_pnl == pytest.approx(10 * (99.0 - 101.0))
    assert (second.entry_bar, second.is_open) == (451, True)
    # Why: the time trigger's gate, the strategy's own `reason`, the levels it set.
    assert first.reasoning == (
        "Time trigger fired. Custom strategy BUY: crossed up. Stop 99.00; targets 104.00 and "
        "107.00."
    )


def csv_of(bars: History) -> str:
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(len(bars)):
        stamp = datetime.fromtimestamp(int(bars.open_seconds[i]), UTC).isoformat()
        prices = (bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i])
        rows.append(",".join([stamp, *(str(p) for p in prices)]))
    return "\n".join(rows) + "\n"


def test_a_backtest_of_a_pipeline_with_a_custom_strategy_runs_it(owner, strategy):
    pipeline = Pipeline.objects.create(
        owner=owner, name="Custom cross", graph=custom_graph(strategy.lineage)
    )
    dataset = dataset_create_from_csv(
        owner=owner, name="5m", symbol="TEST", content=csv_of(history())
    )
    assert dataset.timeframe == "5m"
    backtest = backtest_create(
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        settings=BacktestSettings(initial_cash=100_000),
        enqueue=False,
    )

    assert backtest_run(backtest_id=backtest.pk) == BacktestStatus.COMPLETED

    trades = BacktestTrade.objects.filter(backtest=backtest).order_by("entry_bar")
    assert [(t.entry_bar, t.close_reason) for t in trades] == [(101, "stop_hit"), (451, "open")]
    assert Backtest.objects.get(pk=backtest.pk).trades_count == 1


def test_it_refuses_a_strategy_that_is_not_approved_naming_the_node(owner, peer, strategy):
    pipeline = Pipeline.objects.create(
        owner=peer, name="Someone else's", graph=custom_graph(strategy.lineage)
    )
    dataset = dataset_create_from_csv(
        owner=peer, name="5m", symbol="TEST", content=csv_of(history())
    )

    with pytest.raises(BacktestRefused) as refused:
        backtest_create(
            owner=peer,
            pipeline=pipeline,
            dataset=dataset,
            settings=BacktestSettings(),
            enqueue=False,
        )

    assert refused.value.field == "mine.strategy"
