"""Backtest engine benchmark: the SMA(10)/SMA(20) cross on 500,000 one-minute bars, through our
engine and through backtesting.py in the same run, with both throughputs (bars/s) and the ratio.

Both sides do the whole job: indicators over the history, the replay, the results. The bars are
a seeded random walk (the same for both). Target: ours ≥ 2× backtesting.py's bars per second.

Part 2: a 100-combination sweep (10 equity fractions × 10 exit averages) over 100,000
one-minute bars in PostgreSQL, sent as a Celery group of chunks, timed from the request to the
last result with one worker process and then with two. Target: two finish in ≤ 60 % of one's
time. (On a shared 2-core machine the second process competes with everything else running.)

Run with `make bench` (or `uv run python bench/bench_backtest.py [bars]`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from common import setup_django

TARGET_RATIO = 2.0
TARGET_SWEEP_SHARE = 0.60
BARS = 500_000
SWEEP_BARS = 100_000
ROOT = Path(__file__).resolve().parent.parent


def random_walk(bars: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0008, bars)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 0.0005, bars)) * close
    index = pd.date_range("2020-01-02 14:30", periods=bars, freq="1min")
    return pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close) + spread,
            "Low": np.minimum(open_, close) - spread,
            "Close": close,
            "Volume": rng.integers(1_000, 10_000, bars).astype(float),
        },
        index=index,
    )


def ours(data: pd.DataFrame) -> tuple[float, int, float]:
    from pipelines.backtest.engine import Costs, History, run_backtest
    from pipelines.backtest.plan import plan_from_pipeline

    started = time.perf_counter()
    seconds = (data.index - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    history = History(
        "BENCH",
        "1m",
        np.asarray(seconds, dtype=np.int64),
        *(data[c].to_numpy(np.float64) for c in ("Open", "High", "Low", "Close", "Volume")),
    )

    # The same pipeline as the differential test, its conditions on 1-minute bars.
    graph = sma_cross_graph("1m")
    plan = plan_from_pipeline(graph=graph, schedule=None, timeframe="1m")
    result = run_backtest(history, plan, Costs(initial_cash=10_000, commission_pct=0.2))
    return time.perf_counter() - started, len(result.closed_trades), result.final_equity


def theirs(data: pd.DataFrame) -> tuple[float, int, float]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCrossLong(Strategy):
        def init(self):
            self.sma1 = self.I(SMA, self.data.Close, 10)
            self.sma2 = self.I(SMA, self.data.Close, 20)

        def next(self):
            if crossover(self.sma1, self.sma2):
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(
            data, SmaCrossLong, cash=10_000, commission=0.002, exclusive_orders=True
        ).run()
    return time.perf_counter() - started, len(stats._trades), float(stats["Equity Final [$]"])


def sma_cross_graph(timeframe: str) -> dict:
    def cross(operator: str, slow: int = 20) -> list[dict]:
        return [
            {
                "indicator": "sma_10",
                "operator": operator,
                "compare_to": f"sma_{slow}",
                "timeframe": timeframe,
            }
        ]

    return {
        "nodes": [
            {
                "id": "trigger",
                "agent_type": "technical_trigger",
                "config": {"conditions": cross("crosses_above")},
            },
            {
                "id": "risk",
                "agent_type": "risk_manager_agent",
                "config": {
                    "sizing_method": "equity_fraction",
                    "equity_fraction_pct": 100,
                    "max_position_pct": 100,
                    "max_symbol_exposure_pct": 100,
                },
            },
            {
                "id": "trade",
                "agent_type": "trade_manager_agent",
                "config": {"exit_conditions": cross("crosses_below")},
            },
        ],
        "edges": [],
    }


def _workers_start(count: int) -> list[subprocess.Popen]:
    from config.celery import app

    app.control.purge()
    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-P",
                "prefork",
                "-c",
                "1",
                "-Q",
                "default",
                "-n",
                f"sweep{index}@%h",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index in range(count)
    ]
    deadline = time.monotonic() + 120
    while len(app.control.ping(timeout=1.0) or []) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the Celery workers did not answer a ping")
    return workers


def _sweep_seconds(workers: int, pipeline, dataset, user) -> float:
    from decimal import Decimal

    from pipelines.backtest.checks import BacktestSettings
    from pipelines.backtest.sweep_services import sweep_create
    from pipelines.models import Backtest, BacktestStatus

    grid = {
        "risk.equity_fraction_pct": [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
        "trade.exit_conditions": [
            [
                {
                    "indicator": "sma_10",
                    "operator": "crosses_below",
                    "compare_to": f"sma_{slow}",
                    "timeframe": "1m",
                }
            ]
            for slow in range(15, 65, 5)
        ],
    }
    processes = _workers_start(workers)
    try:
        started = time.perf_counter()
        sweep = sweep_create(
            owner=user,
            pipeline=pipeline,
            dataset=dataset,
            grid=grid,
            settings=BacktestSettings(commission_pct=Decimal("0.02")),
            chunk_size=5,
        )
        finished = (BacktestStatus.COMPLETED, BacktestStatus.FAILED, BacktestStatus.CANCELLED)
        while Backtest.objects.filter(sweep=sweep).exclude(status__in=finished).exists():
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        failed = Backtest.objects.filter(sweep=sweep, status=BacktestStatus.FAILED).count()
        if failed:
            raise RuntimeError(f"{failed} backtests of the sweep failed")
        return seconds
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def session_minutes(count: int) -> pd.DatetimeIndex:
    """`count` one-minute bar opens inside XNYS sessions, from 2 January 2020 on."""
    from trading.calendar import session_table

    table = session_table()
    first = int(np.searchsorted(table.opens, pd.Timestamp("2020-01-02", tz="UTC").timestamp()))
    minutes: list[int] = []
    for opens, closes in zip(table.opens[first:], table.closes[first:], strict=False):
        minutes.extend(range(int(opens), int(closes), 60))
        if len(minutes) >= count:
            break
    return pd.DatetimeIndex(np.asarray(minutes[:count], dtype="datetime64[s]"))


def _load() -> str:
    """The machine's load average (1 and 5 minutes): the sweep competes with whatever else runs
    on the machine, so its figures are read next to it."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def sweep_bench() -> bool:
    from common import bench_user

    from pipelines.models import Backtest, Pipeline
    from trading.marketdata.datasets import Bars, _save

    user = bench_user()
    Backtest.objects.filter(owner=user).delete()
    data = random_walk(SWEEP_BARS)
    # Session minutes: a backtest trades only bars inside exchange sessions.
    data.index = session_minutes(SWEEP_BARS)
    seconds = (data.index - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    bars = Bars(
        np.asarray(seconds, dtype=np.int64),
        *(data[c].to_numpy(np.float64) for c in ("Open", "High", "Low", "Close", "Volume")),
    )
    dataset = _save(user, "bench 1m", "BENCH", "1m", bars, "UTC")
    pipeline = Pipeline.objects.create(owner=user, name="bench sweep", graph=sma_cross_graph("1m"))
    try:
        one = _sweep_seconds(1, pipeline, dataset, user)
        load_one = _load()
        two = _sweep_seconds(2, pipeline, dataset, user)
        load_two = _load()
    finally:
        pipeline.delete()
        dataset.delete()
    share = two / one
    print(f"100-combination sweep on {SWEEP_BARS:,} bars, Celery chunks of 5")
    print(f"  1 worker process  {one:7.2f} s  (load {load_one})")
    print(
        f"  2 worker processes{two:7.2f} s  (load {load_two}; {share:.0%} of one's time; "
        f"target ≤ 60%: {'met' if share <= TARGET_SWEEP_SHARE else 'NOT met'})"
    )
    return share <= TARGET_SWEEP_SHARE


def main() -> int:
    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    bars = int(numbers[0]) if numbers else BARS
    setup_django()
    data = random_walk(bars)
    ours(data.iloc[:5_000])  # warm imports and caches on a slice
    our_seconds, our_trades, our_equity = ours(data)
    their_seconds, their_trades, their_equity = theirs(data)
    our_rate, their_rate = bars / our_seconds, bars / their_seconds
    ratio = our_rate / their_rate
    print(f"SMA(10)/SMA(20) cross on {bars:,} one-minute bars")
    print(f"  tradecrew     {our_seconds:8.2f} s  {our_rate:12,.0f} bars/s  {our_trades} trades")
    print(
        f"  backtesting.py{their_seconds:8.2f} s  {their_rate:12,.0f} bars/s  {their_trades} trades"
    )
    print(
        f"  ratio {ratio:.1f}x (target ≥ {TARGET_RATIO:g}x: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); final equity "
        f"{our_equity:,.2f} vs {their_equity:,.2f}"
    )
    swept = sweep_bench() if "--no-sweep" not in sys.argv else True
    return 0 if ratio >= TARGET_RATIO and swept else 1


if __name__ == "__main__":
    sys.exit(main())
