"""A dataset's bars for backtest runs, read from PostgreSQL once per worker process.

A sweep runs many backtests of one dataset in each worker; datasets never change once stored,
so the arrays (the session bars only, see `sessions.exchange_session_bars`) are kept for the
last few datasets a process used instead of being fetched and decoded for every backtest
(100,000 one-minute bars are 4.8 MB of bytea to transfer and decode each time).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from pipelines.backtest.engine import History
from pipelines.backtest.sessions import exchange_session_bars
from trading.marketdata.datasets import dataset_bars
from trading.models import Dataset

ARRAY_FIELDS = ("open_seconds", "open", "high", "low", "close", "volume")
KEEP = 2  # datasets kept per process
KEEP_RANGES = 4  # ranges of them kept, with the indicators their backtests computed

_histories: OrderedDict[str, History] = OrderedDict()
_ranges: OrderedDict[tuple, History] = OrderedDict()
_lock = threading.Lock()


def history_range(dataset_id, start: int | None, end: int | None) -> History:
    """The dataset's session bars opening in [start, end) (epoch seconds; None: unbounded), one
    History object per range in this process: the backtests of a sweep chunk replay the same
    one and share what it memoises (its frame, resampled bars and indicators)."""
    full = dataset_history(dataset_id)
    key = (str(dataset_id), start, end)
    with _lock:
        cached = _ranges.get(key)
        if cached is not None and cached.memo.get("of") is full:
            _ranges.move_to_end(key)
            return cached
    history = full.between(start, end)
    history.memo["of"] = full  # a range of the dataset's bars as cached now
    with _lock:
        _ranges[key] = history
        while len(_ranges) > KEEP_RANGES:
            _ranges.popitem(last=False)
    return history


def dataset_history(dataset_id) -> History:
    """The dataset's session bars (cached per process; datasets are immutable)."""
    key = str(dataset_id)
    with _lock:
        if key in _histories:
            _histories.move_to_end(key)
            return _histories[key]
    dataset = Dataset.objects.only("symbol", "timeframe", *ARRAY_FIELDS).get(pk=dataset_id)
    bars = dataset_bars(dataset)
    history = exchange_session_bars(
        History(
            dataset.symbol,
            dataset.timeframe,
            bars.open_seconds,
            bars.open,
            bars.high,
            bars.low,
            bars.close,
            bars.volume,
        )
    )
    for array in (history.open_seconds, history.open, history.high, history.low, history.close):
        array.setflags(write=False)  # shared by every backtest of the process
    with _lock:
        _histories[key] = history
        while len(_histories) > KEEP:
            _histories.popitem(last=False)
    return history
