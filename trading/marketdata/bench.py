"""Timings of the synthetic provider: `uv run python -m trading.marketdata.bench` (prints only)."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from trading.calendar import session_table
from trading.marketdata.synthetic import SyntheticProvider
from trading.marketdata.universe import UNIVERSE

TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


def main() -> None:
    started = time.perf_counter()
    session_table()
    print(f"calendar build (once per process): {_ms(time.perf_counter() - started)}")

    end = datetime(2026, 11, 27, 17, 3, 20, tzinfo=UTC)
    cold_symbols = [f"Z{chr(65 + i)}{chr(65 + j)}" for i in range(6) for j in range(6)]
    print(f"\nbars(limit=300) at {end.isoformat()}: median over {len(cold_symbols)} symbols")
    print(f"{'timeframe':>10} {'cold':>11} {'cold max':>11} {'warm':>11}")
    for timeframe in TIMEFRAMES:
        provider = SyntheticProvider(seed=7)
        for symbol in cold_symbols:  # build the daily skeletons; they are not what we time
            provider.quotes([symbol], at=end)
        cold, warm = [], []
        for symbol in cold_symbols:
            t0 = time.perf_counter()
            provider.bars(symbol, timeframe, end=end, limit=300)
            cold.append(time.perf_counter() - t0)
            for _ in range(20):
                t0 = time.perf_counter()
                provider.bars(symbol, timeframe, end=end, limit=300)
                warm.append(time.perf_counter() - t0)
        print(
            f"{timeframe:>10} {_ms(statistics.median(cold))} {_ms(max(cold))} "
            f"{_ms(statistics.median(warm))}"
        )

    provider = SyntheticProvider(seed=7)
    symbols = list(UNIVERSE[:50])
    t0 = time.perf_counter()
    provider.quotes(symbols, at=end)
    first = time.perf_counter() - t0
    warm = []
    for second in range(1, 101):
        at = end.replace(second=second % 60)
        t0 = time.perf_counter()
        provider.quotes(symbols, at=at)
        warm.append(time.perf_counter() - t0)
    print(f"\nquotes(50 symbols): first {_ms(first)}, warm median {_ms(statistics.median(warm))}")

    t0 = time.perf_counter()
    fresh = SyntheticProvider(seed=8)
    fresh.bars("AAPL", "1d", end=end, limit=300)
    print(f"first call for a new symbol incl. its skeleton (1d): {_ms(time.perf_counter() - t0)}")


if __name__ == "__main__":
    main()
