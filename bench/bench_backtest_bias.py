"""Backtest with a Bias node: the SMA(10)/SMA(20) cross of bench_backtest on about 500,000
one-minute session bars, once on the plan's side and once with a rules-engine Bias agent (1m, 5m
and 15m, the Market Data agent's default indicators) picking each trade's side. Prints both
throughputs (bars/s) and on how many bars the bias was read: only on trigger bars while flat,
its indicators computed once per timeframe.

Run with `make bench` (or `uv run python bench/bench_backtest_bias.py [minutes of the walk]`).
"""

from __future__ import annotations

import os
import sys
import time

from common import setup_django

BARS = 2_700_000  # minutes round the clock: about 500,000 in sessions


def run(bars: int, with_bias: bool) -> tuple[float, int, int, int]:
    import numpy as np
    import pandas as pd
    from bench_backtest import random_walk, sma_cross_graph

    from pipelines.backtest import bias as bias_module
    from pipelines.backtest.engine import Costs, History, run_backtest
    from pipelines.backtest.plan import plan_from_pipeline
    from pipelines.backtest.sessions import exchange_session_bars

    data = random_walk(bars)
    seconds = (data.index - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    # Session minutes only, as a backtest replays them (the walk runs round the clock).
    history = exchange_session_bars(
        History(
            "BENCH",
            "1m",
            np.asarray(seconds, dtype=np.int64),
            *(data[c].to_numpy(np.float64) for c in ("Open", "High", "Low", "Close", "Volume")),
        )
    )
    graph = sma_cross_graph("1m")
    if with_bias:
        graph = {
            **graph,
            "nodes": [
                *graph["nodes"],
                {
                    "id": "mood",
                    "agent_type": "bias_agent",
                    "config": {"analysis_timeframes": ["1m", "5m", "15m"]},
                },
            ],
        }
    plan = plan_from_pipeline(graph=graph, schedule=None, timeframe="1m", side="both")
    readings = []
    original = bias_module.BiasReplay.side_at

    def counted(self, bar):
        readings.append(bar)
        return original(self, bar)

    bias_module.BiasReplay.side_at = counted
    try:
        started = time.perf_counter()
        result = run_backtest(history, plan, Costs(initial_cash=10_000, commission_pct=0.2))
        elapsed = time.perf_counter() - started
    finally:
        bias_module.BiasReplay.side_at = original
    return elapsed, len(result.trades), len(set(readings)), len(history)


def main() -> int:
    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    bars = int(numbers[0]) if numbers else BARS
    setup_django()
    run(5_000, True)  # warm imports and caches
    plain, plain_trades, _, bars = run(bars, False)
    biased, biased_trades, read, _ = run(bars, True)
    load = os.getloadavg()[0]
    print(f"SMA(10)/SMA(20) cross on {bars:,} one-minute session bars (load {load:.2f})")
    print(f"  without bias  {plain:7.2f} s  {bars / plain:12,.0f} bars/s  {plain_trades} trades")
    print(
        f"  rules bias    {biased:7.2f} s  {bars / biased:12,.0f} bars/s  {biased_trades} trades, "
        f"bias read on {read:,} bars ({read / bars:.2%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
