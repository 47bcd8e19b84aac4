"""Backtest engine benchmark: the SMA(10)/SMA(20) cross on 500,000 one-minute bars, through our
engine and through backtesting.py in the same run, with both throughputs (bars/s) and the ratio.

Both sides do the whole job: indicators over the history, the replay, the results. The bars are
a seeded random walk (the same for both). Target: ours ≥ 2× backtesting.py's bars per second.

Run with `make bench` (or `uv run python bench/bench_backtest.py [bars]`).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd
from common import setup_django

TARGET_RATIO = 2.0
BARS = 500_000


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
    def cross(operator: str) -> list[dict]:
        return [
            {"indicator": "sma_10", "operator": operator, "compare_to": "sma_20", "timeframe": "1m"}
        ]

    graph = {
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


def main() -> int:
    bars = int(sys.argv[1]) if len(sys.argv) > 1 else BARS
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
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
