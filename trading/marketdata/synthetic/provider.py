"""SyntheticProvider: bars and quotes of the synthetic market, assembled from the daily skeletons
and session minute paths and kept in bounded caches."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from trading.calendar import session_table
from trading.marketdata.base import (
    MarketDataError,
    MarketDataProvider,
    Quote,
    UnknownSymbol,
    validate_timeframe,
)
from trading.marketdata.frames import INTRADAY_MINUTES, bars_frame, empty_bars
from trading.marketdata.seeding import unit_noise as _unit_noise
from trading.marketdata.synthetic.cache import LRU
from trading.marketdata.synthetic.daily import ANCHOR, Skeleton, SymbolProfile, symbol_profile
from trading.marketdata.synthetic.intraday import (
    Minutes,
    aggregate,
    aggregate_one,
    batches,
    simulate,
)
from trading.marketdata.universe import UNIVERSE, is_plain_ticker

_SKELETON_BLOCK = 512  # the skeleton grows in blocks of this many sessions

# Cache bounds (entries). Worst case is roughly 20 MB + 8 MB + 18 MB + a few MB.
_HISTORY_CACHE = 128  # symbols; ~170 kB each for 2015-2027
_MINUTE_CACHE = 1024  # (symbol, session) 1-minute paths; ~8 kB each
_SESSION_BARS_CACHE = 4096  # (symbol, session, timeframe) aggregates; <= 4.4 kB each (5m)
_ASSEMBLED_CACHE = 512  # (symbol, timeframe, last closed bar, limit) -> assembled arrays


class SyntheticProvider(MarketDataProvider):
    """Deterministic synthetic bars and quotes for any 1-5 letter upper-case ticker."""

    name = "synthetic"

    def __init__(self, seed: int = 42):
        self.seed = int(seed)
        table = session_table()
        anchor_index = table.index_of_day(ANCHOR)
        if anchor_index is None:  # pragma: no cover - ANCHOR is a fixed session date
            raise RuntimeError(f"{ANCHOR} is not an XNYS session")
        self._anchor_index = anchor_index
        self._skeletons = LRU(_HISTORY_CACHE)
        self._minutes = LRU(_MINUTE_CACHE)
        self._session_bars = LRU(_SESSION_BARS_CACHE)
        self._assembled = LRU(_ASSEMBLED_CACHE)
        self._grow_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SyntheticProvider(seed={self.seed})"

    # -- public interface ------------------------------------------------------------------

    def universe(self) -> list[str]:
        return list(UNIVERSE)

    def profile(self, symbol: str) -> SymbolProfile:
        self._check_symbol(symbol)
        return symbol_profile(self.seed, symbol)

    def bars(self, symbol: str, timeframe: str, *, end: datetime, limit: int = 300) -> pd.DataFrame:
        self._check_symbol(symbol)
        validate_timeframe(timeframe)
        end_seconds = _seconds(end, "end")
        if limit <= 0:
            return empty_bars()
        self._check_moment(end_seconds)
        if timeframe == "1d":
            seconds, values = self._daily(symbol, end_seconds, limit)
        else:
            seconds, values = self._intraday(symbol, timeframe, end_seconds, limit)
        return bars_frame(seconds, values)

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        at_seconds = _seconds(at, "at")
        self._check_moment(at_seconds)
        table = session_table()
        index = table.index_at_or_before(at_seconds)
        in_session = index >= 0 and at_seconds < table.close_list[index]
        result: dict[str, Quote] = {}
        for symbol in symbols:
            if not is_plain_ticker(symbol) or symbol in result:
                continue
            if in_session and index >= self._anchor_index:
                result[symbol] = self._live_quote(symbol, index, at_seconds, at)
            else:
                result[symbol] = self._closing_quote(symbol, table.index_closed_by(at_seconds))
        return result

    def clear_caches(self) -> None:
        for cache in (self._skeletons, self._minutes, self._session_bars, self._assembled):
            cache.clear()

    # -- validation ------------------------------------------------------------------------

    @staticmethod
    def _check_symbol(symbol: str) -> None:
        if not is_plain_ticker(symbol):
            raise UnknownSymbol(
                f"unknown symbol {symbol!r}: the synthetic provider knows 1-5 upper-case letters"
            )

    def _check_moment(self, seconds: float) -> None:
        table = session_table()
        if seconds < table.open_list[self._anchor_index]:
            raise MarketDataError(f"synthetic market data starts on {ANCHOR.isoformat()}")
        if seconds > table.last_second:
            raise MarketDataError(
                f"synthetic market data ends with the calendar on {table.last_day.isoformat()}"
            )

    # -- building blocks -------------------------------------------------------------------

    def _skeleton(self, symbol: str, index: int) -> Skeleton:
        """The symbol's skeleton, covering at least the session at table position `index`."""
        needed = index - self._anchor_index + 1
        skeleton = self._skeletons.get_or_create(symbol, lambda: self._new_skeleton(symbol, needed))
        if skeleton.count >= needed:
            return skeleton
        with self._grow_lock:
            current = self._skeletons.get(symbol) or skeleton
            if current.count >= needed:
                return current
            grown = self._new_skeleton(symbol, needed)
            grown.adopt_summaries(current)
            self._skeletons.put(symbol, grown)
            return grown

    def _new_skeleton(self, symbol: str, needed: int) -> Skeleton:
        table = session_table()
        available = len(table) - self._anchor_index
        blocks = -(-(needed + _SKELETON_BLOCK // 2) // _SKELETON_BLOCK)
        count = min(available, blocks * _SKELETON_BLOCK)
        return Skeleton(self.seed, symbol_profile(self.seed, symbol), count, self._anchor_index)

    def _session_minutes(self, symbol: str, index: int) -> Minutes:
        return self._minutes.get_or_create(
            (symbol, index), lambda: self._generate_minutes(symbol, index)
        )

    def _generate_minutes(self, symbol: str, index: int) -> Minutes:
        """The 1-minute path of one session (and its daily summary, filled in on the way)."""
        skeleton = self._skeleton(symbol, index)
        open_, high, low, close, volume = (m[0] for m in simulate(skeleton, [index]))
        return Minutes(
            index=index,
            open_seconds=session_table().open_list[index],
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            cumulative_volume=np.cumsum(volume),
        )

    def _summarise(self, skeleton: Skeleton, indices: list[int]) -> None:
        """Fill the daily high/low/volume of many sessions, simulated in batches by length."""
        for batch in batches(indices):
            simulate(skeleton, batch)

    def _tf_bars(
        self, symbol: str, indices: list[int], timeframe: str
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Sessions' bars of an intraday timeframe: index -> (open seconds, (n, 5) OHLCV)."""
        if timeframe == "1m":
            return {i: aggregate_one(self._session_minutes(symbol, i), 1) for i in indices}
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        missing: list[int] = []
        for index in indices:
            bars = self._session_bars.get((symbol, index, timeframe))
            if bars is None:
                missing.append(index)
            else:
                found[index] = bars
        if missing:
            skeleton = self._skeleton(symbol, max(missing))
            span = INTRADAY_MINUTES[timeframe]
            for batch in batches(missing):
                matrices = simulate(skeleton, batch)
                for index, bars in zip(batch, aggregate(batch, matrices, span), strict=True):
                    self._session_bars.put((symbol, index, timeframe), bars)
                    found[index] = bars
        return found

    def _intraday(
        self, symbol: str, timeframe: str, end_seconds: float, limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        table = session_table()
        index = table.index_at_or_before(end_seconds)
        if index < self._anchor_index:
            return np.empty(0, dtype=np.int64), np.empty((0, 5))
        span = INTRADAY_MINUTES[timeframe]
        open_seconds, close_seconds = table.open_list[index], table.close_list[index]
        length = (close_seconds - open_seconds) // 60
        if end_seconds >= close_seconds:
            closed_in_last = -(-length // span)
        else:
            closed_in_last = int((end_seconds - open_seconds) // 60) // span
        key = (symbol, timeframe, index, closed_in_last, limit)
        return self._assembled.get_or_create(
            key, lambda: self._assemble(symbol, timeframe, index, closed_in_last, limit)
        )

    def _assemble(
        self, symbol: str, timeframe: str, index: int, closed_in_last: int, limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        table = session_table()
        span = INTRADAY_MINUTES[timeframe]
        wanted = [index] if closed_in_last else []
        total = closed_in_last
        earlier = index - 1
        while total < limit and earlier >= self._anchor_index:
            wanted.append(earlier)
            total += -(-(table.close_list[earlier] - table.open_list[earlier]) // (60 * span))
            earlier -= 1
        if not wanted:
            return np.empty(0, dtype=np.int64), np.empty((0, 5))
        wanted.reverse()
        bars = self._tf_bars(symbol, wanted, timeframe)
        pieces = [bars[i] for i in wanted]
        if closed_in_last:
            seconds, values = pieces[-1]
            pieces[-1] = (seconds[:closed_in_last], values[:closed_in_last])
        all_seconds = np.concatenate([p[0] for p in pieces])[-limit:]
        all_values = np.concatenate([p[1] for p in pieces])[-limit:]
        all_seconds.setflags(write=False)
        all_values.setflags(write=False)
        return all_seconds, all_values

    def _daily(self, symbol: str, end_seconds: float, limit: int) -> tuple[np.ndarray, np.ndarray]:
        table = session_table()
        last = table.index_closed_by(end_seconds)
        if last < self._anchor_index:
            return np.empty(0, dtype=np.int64), np.empty((0, 5))
        first = max(self._anchor_index, last - limit + 1)
        skeleton = self._skeleton(symbol, last)
        a, b = first - self._anchor_index, last - self._anchor_index + 1
        missing = np.flatnonzero(~skeleton.summarised[a:b])
        if len(missing):
            # Only the summaries are needed; they bypass the minute cache so history scans
            # don't evict the sessions that live quotes and intraday bars are using.
            self._summarise(skeleton, (missing + first).tolist())
        values = np.column_stack(
            [
                skeleton.open_cents[a:b] / 100.0,
                skeleton.high_cents[a:b] / 100.0,
                skeleton.low_cents[a:b] / 100.0,
                skeleton.close_cents[a:b] / 100.0,
                skeleton.volume[a:b].astype(np.float64),
            ]
        )
        return table.opens[first : last + 1], values

    def _live_quote(self, symbol: str, index: int, at_seconds: float, at: datetime) -> Quote:
        minutes = self._session_minutes(symbol, index)
        elapsed = at_seconds - minutes.open_seconds
        minute = int(elapsed // 60)
        fraction = (elapsed - minute * 60) / 60
        previous_close = int(minutes.open[minute])
        minute_close = int(minutes.close[minute])
        low, high = int(minutes.low[minute]), int(minutes.high[minute])
        # Walk from the previous close towards this minute's close, plus a wiggle keyed on the
        # whole second, so a page polled every few seconds sees the price move.
        base = previous_close + (minute_close - previous_close) * fraction
        wiggle = _unit_noise(self.seed, symbol, int(at_seconds)) * (high - low) * 0.5
        cents = round(min(max(base + wiggle * math.sin(math.pi * fraction), low), high))
        volume_before = int(minutes.cumulative_volume[minute - 1]) if minute else 0
        volume = volume_before + int(minutes.volume[minute] * fraction)
        # The profile alone: building the skeleton for it made a quote of more symbols than
        # the skeleton cache holds rebuild 12 years of history per symbol.
        profile = symbol_profile(self.seed, symbol)
        return _quote(profile, cents, volume, at.astimezone(UTC))

    def _closing_quote(self, symbol: str, index: int) -> Quote:
        if index < self._anchor_index:
            raise MarketDataError(f"synthetic market data starts on {ANCHOR.isoformat()}")
        skeleton = self._skeleton(symbol, index)
        j = index - self._anchor_index
        if not skeleton.summarised[j]:
            self._summarise(skeleton, [index])
        table = session_table()
        return _quote(
            skeleton.profile,
            int(skeleton.close_cents[j]),
            int(skeleton.volume[j]),
            datetime.fromtimestamp(table.close_list[index], UTC),
        )


def _quote(profile: SymbolProfile, cents: int, volume: int, timestamp: datetime) -> Quote:
    half_spread = max(1, round(cents * profile.spread_bps / 20_000))
    return Quote(
        symbol=profile.symbol,
        price=cents / 100,
        bid=max(cents - half_spread, 1) / 100,
        ask=(cents + half_spread) / 100,
        volume=volume,
        timestamp=timestamp,
    )


def _seconds(moment: datetime, name: str) -> float:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.timestamp()
