"""A backtest's results in the shapes they are stored and shown: the equity series thinned to
a chart's worth of points, and the headline metrics (the analytics module computes the full
set from the stored trades and equity)."""

from __future__ import annotations

import itertools

import numpy as np

MAX_EQUITY_POINTS = 2_000


def equity_points(open_seconds: np.ndarray, equity: np.ndarray) -> list[list[float]]:
    """[[epoch seconds, equity], …]: every bar when few, else evenly thinned, keeping the
    lowest point of each stretch (so the drawdown a chart shows is the real one) and the last
    bar exactly."""
    n = len(equity)
    if n == 0:
        return []
    if n <= MAX_EQUITY_POINTS:
        picks = np.arange(n)
    else:
        edges = np.linspace(0, n, MAX_EQUITY_POINTS // 2 + 1).astype(int)
        picks = []
        for lo, hi in itertools.pairwise(edges):
            if hi > lo:
                picks.extend(sorted({lo, lo + int(np.argmin(equity[lo:hi]))}))
        picks.append(n - 1)
        picks = np.unique(picks)
    return [[int(open_seconds[i]), round(float(equity[i]), 2)] for i in picks]


def max_drawdown_pct(equity: np.ndarray) -> float:
    """Largest fall from a running peak, in % of that peak (0 when equity never falls)."""
    if not len(equity):
        return 0.0
    peaks = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, (peaks - equity) / peaks, 0.0)
    return round(float(falls.max()) * 100, 2)


def backtest_metrics(result, *, initial_cash: float, seconds: float, bars: int) -> dict:
    closed = result.closed_trades
    wins = [t.net_pnl for t in closed if t.net_pnl > 0]
    losses = [t.net_pnl for t in closed if t.net_pnl <= 0]
    gross_loss = -sum(losses)
    return {
        "return_pct": round((result.final_equity / initial_cash - 1) * 100, 2),
        "max_drawdown_pct": max_drawdown_pct(result.equity),
        "trades": len(closed),
        "open_trades": len(result.open_trades),
        "win_rate_pct": round(100 * len(wins) / len(closed), 1) if closed else None,
        "profit_factor": round(sum(wins) / gross_loss, 2) if gross_loss > 0 else None,
        "commission": round(sum(t.commission for t in result.trades), 2),
        "bars": bars,
        "seconds": round(seconds, 3),
        "bars_per_second": round(bars / seconds) if seconds > 0 else None,
    }


def daily_equity(open_seconds: np.ndarray, equity: np.ndarray, zone: str) -> list[list]:
    """[[ISO day, equity], …]: the equity at each day's last bar, the day read in `zone` — every
    day, unthinned, so analytics measures daily returns as it does for a live record."""
    import pandas as pd

    if not len(equity):
        return []
    moments = pd.to_datetime(np.asarray(open_seconds), unit="s", utc=True).tz_convert(zone)
    days = moments.tz_localize(None).normalize().to_numpy()
    last_of_day = np.flatnonzero(np.append(days[1:] != days[:-1], True))
    return [[str(days[i].astype("datetime64[D]")), round(float(equity[i]), 2)] for i in last_of_day]
