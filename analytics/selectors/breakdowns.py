"""A scope's trades broken down by symbol, pipeline, weekday and hour of entry, direction and
close reason, each group labelled the way the pages name it."""

from __future__ import annotations

import numpy as np

from analytics import metrics
from analytics.selectors.trades import TradeColumns
from trading.models import CloseReason

# Close reasons as the breakdown names them (spec: stop, target 1, target 2, end of day, manual,
# budget, signal exit); the ledger's own labels for the rest.
CLOSE_REASON_ORDER = [
    CloseReason.STOP_HIT,
    CloseReason.TARGET_1_HIT,
    CloseReason.TARGET_2_HIT,
    CloseReason.END_OF_DAY,
    CloseReason.MANUAL,
    CloseReason.BUDGET,
    "signal_exit",
    CloseReason.EMERGENCY_ALL,
    CloseReason.BROKER,
]
CLOSE_REASON_LABELS = {
    **dict(CloseReason.choices),
    "signal_exit": "Signal exit",
    "": "Unknown",
}


def trade_breakdowns(columns: TradeColumns, names: dict[str, str]) -> dict[str, list[dict]]:
    """Every breakdown of the trades, keyed as the pages show them; `names` labels pipelines."""
    book = columns.book
    weekdays = np.array(["", *metrics.WEEKDAYS], dtype=object)[columns.entry_weekday]
    hours = np.array(metrics.HOURS, dtype=object)[columns.entry_hour]
    by_pipeline = metrics.breakdown(book, book.pipeline_id)
    for row in by_pipeline:
        row["label"] = names.get(row["key"], "No pipeline (or deleted)")
    by_reason = metrics.breakdown(book, book.close_reason, order=CLOSE_REASON_ORDER)
    for row in by_reason:
        row["label"] = CLOSE_REASON_LABELS.get(row["key"], row["key"])
    return {
        "symbol": metrics.breakdown(book, book.symbol),
        "pipeline": by_pipeline,
        "weekday": metrics.breakdown(book, weekdays, order=metrics.WEEKDAYS),
        "hour": metrics.breakdown(book, hours, order=metrics.HOURS),
        "direction": metrics.breakdown(book, metrics.direction_keys(book), order=["long", "short"]),
        "close_reason": by_reason,
    }
