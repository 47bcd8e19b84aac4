"""A finished backtest's chart: the dataset's last bars as candles, the trades' entries and
exits marked, their stops and targets drawn over the bars each was open. It reads only the
trades open over those bars, however many the backtest made."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.backtest import selectors
from pipelines.models import Backtest
from trading.marketdata.datasets import dataset_bars
from trading.models import Dataset

CHART_BARS = 1_500

# Exit markers say why in a word or two (the trades table has the full reason).
EXIT_MARKS = {
    "stop_hit": "stop",
    "target_1_hit": "T1",
    "target_2_hit": "T2",
    "end_of_day": "EOD",
    "exit_condition": "exit",
    "reversal": "reverse",
}


def backtest_chart(backtest: Backtest) -> list[dict]:
    """The dataset's last bars as candles, with every trade's entry and exit marked, each
    trade's stop and targets drawn as segments over the bars it was open, and the last
    trade's levels as price lines (none for a backtest without trades)."""
    last = selectors.backtest_trades(backtest=backtest).defer("reasoning").last()
    if last is None:
        return []
    dataset = Dataset.objects.get(pk=backtest.dataset_id)
    bars = dataset_bars(dataset)
    lo = max(0, len(bars) - CHART_BARS)
    candles = [
        [
            int(bars.open_seconds[i]),
            *(round(float(getattr(bars, c)[i]), 4) for c in ["open", "high", "low", "close"]),
        ]
        for i in range(lo, len(bars))
    ]
    first = candles[0][0] if candles else 0
    last_bar = candles[-1][0] if candles else 0
    markers, levels, segments = [], [], []
    since = datetime.fromtimestamp(first, tz=UTC)
    for trade in selectors.backtest_trades_open_since(backtest=backtest, moment=since):
        entry = int(trade.entry_at.timestamp())
        exit_at = int(trade.exit_at.timestamp()) if trade.exit_at is not None else None
        if entry >= first:
            markers.append(
                {"at": entry, "buy": trade.side == "long", "text": f"{trade.side} {trade.quantity}"}
            )
        if exit_at is not None and exit_at >= first:
            markers.append(
                {
                    "at": exit_at,
                    "buy": trade.side != "long",
                    "text": EXIT_MARKS.get(trade.close_reason, trade.close_reason),
                }
            )
        if (exit_at or last_bar) >= first:
            for kind, price in (
                ("stop", trade.stop_loss),
                ("target_1", trade.target_1),
                ("target_2", trade.target_2),
            ):
                if price is not None:
                    segments.append(
                        {
                            "kind": kind,
                            "price": float(price),
                            "from": max(entry, first),
                            "to": exit_at or last_bar,
                        }
                    )
    for kind, price, title in (
        ("stop", last.stop_loss, "Stop"),
        ("target", last.target_1, "T1"),
        ("target", last.target_2, "T2"),
        ("entry", last.entry_price, "Entry"),
    ):
        if price is not None:
            levels.append({"kind": kind, "price": str(price), "title": title})
    return [
        {
            "symbol": dataset.symbol,
            "timeframes": [dataset.timeframe],
            "default": dataset.timeframe,
            "candles": {dataset.timeframe: candles},
            "levels": levels,
            "markers": markers,
            "segments": segments,
        }
    ]
