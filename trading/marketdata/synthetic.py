"""The default provider: deterministic, realistic synthetic prices that follow XNYS sessions.

How the prices are built, so any instant is cheap to answer:

1. Per symbol, a *profile* (volatility, price level, growth, average volume, spread) is drawn from
   the seed and the ticker.
2. Per symbol, a *daily skeleton* runs from ANCHOR: each session's open and close, its volatility
   and its volume target. Log prices follow a mean-reverting walk around a slowly growing level,
   with drift and volatility regimes that switch every few weeks to months (so trends, golden and
   death crosses and RSI extremes all happen), an overnight gap, rare earnings-like jumps and
   volume spikes. The random draws are generated in one prefix-stable stream, so extending the
   skeleton further into the future never changes a past session.
3. Per session, the *1-minute path* is a Brownian bridge from that session's open to its close with
   a U-shaped volatility and volume profile, seeded by (seed, symbol, session date). It is
   generated on demand and cached; coarser bars are aggregated from it, and a daily bar's
   high/low/volume are those of its minutes, so the 1d close is always the last 1m close.

Prices are whole cents, volumes whole shares. Nothing depends on Python's per-process `hash()`,
so the same (seed, symbol, timeframe, end, limit) gives identical bars in every process.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime

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
from trading.marketdata.seeding import normal as _normal
from trading.marketdata.seeding import uniform as _uniform
from trading.marketdata.seeding import unit_noise as _unit_noise
from trading.marketdata.universe import INDEX_FUNDS, UNIVERSE, is_plain_ticker

ANCHOR = date(2015, 1, 2)
# A symbol's price level (drawn from 20-600) is roughly where it trades on this day.
_LEVEL_DAY = date(2026, 1, 2)
_TRADING_DAYS_PER_YEAR = 252
_FULL_SESSION_MINUTES = 390
_SKELETON_BLOCK = 512  # the skeleton grows in blocks of this many sessions

# Cache bounds (entries). Worst case is roughly 20 MB + 8 MB + 18 MB + a few MB.
_HISTORY_CACHE = 128  # symbols; ~170 kB each for 2015-2027
_MINUTE_CACHE = 1024  # (symbol, session) 1-minute paths; ~8 kB each
_SESSION_BARS_CACHE = 4096  # (symbol, session, timeframe) aggregates; <= 4.4 kB each (5m)
_ASSEMBLED_CACHE = 512  # (symbol, timeframe, last closed bar, limit) -> assembled arrays
# Sessions simulated per matrix: small enough that the temporaries stay in the CPU cache.
_BATCH = 32


class _LRU:
    """A small thread-safe least-recently-used cache with a fixed number of entries."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_create(self, key: Hashable, create: Callable[[], object]):
        with self._lock:
            try:
                self._data.move_to_end(key)
                return self._data[key]
            except KeyError:
                pass
        # Build outside the lock: values are deterministic, so a rare duplicate build is harmless.
        value = create()
        self.put(key, value)
        return value

    def get(self, key: Hashable):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class SymbolProfile:
    """The per-symbol parameters the synthetic paths are drawn with."""

    symbol: str
    annual_volatility: float
    price_level: float
    annual_growth: float
    average_volume: float
    spread_bps: float


def symbol_profile(seed: int, symbol: str) -> SymbolProfile:
    """The symbol's parameters, drawn from (seed, symbol) alone."""
    u = _uniform(6, seed, symbol, "profile")
    if symbol in INDEX_FUNDS:
        volatility = 0.15 + 0.08 * u[0]
        dollar_volume = math.exp(math.log(5e9) + u[3] * math.log(6))
    else:
        # Skewed towards calmer names: most stocks sit at 20-40 %, a few run hot.
        volatility = 0.18 + 0.47 * u[0] ** 1.6
        dollar_volume = math.exp(math.log(2e8) + u[3] * math.log(40))
    level = math.exp(math.log(20) + u[1] * math.log(600 / 20))
    return SymbolProfile(
        symbol=symbol,
        annual_volatility=volatility,
        price_level=level,
        annual_growth=0.02 + 0.10 * u[2],
        average_volume=dollar_volume / level,
        spread_bps=1.0 + 5.0 * u[4],
    )


class _Skeleton:
    """One symbol's daily path from ANCHOR: open/close cents, volatility and volume target."""

    def __init__(self, seed: int, profile: SymbolProfile, count: int, anchor_index: int):
        self.count = count
        self.profile = profile
        table = session_table()
        # Both streams fill row by row, so the first k rows are the same for any count >= k.
        z = _normal((count, 6), seed, profile.symbol, "daily", "normal")
        u = _uniform((count, 4), seed, profile.symbol, "daily", "uniform")
        z_gap, z_return, z_volume, z_drift, z_regime_vol, z_jump = z.T
        u_switch, u_spike, u_spike_size, u_jump = u.T

        # Regimes: a new drift and volatility level starts with probability 1/45 per session.
        switch = u_switch < 1 / 45
        switch[0] = True
        regime_start = np.maximum.accumulate(np.where(switch, np.arange(count), 0))
        drift = np.clip(0.55 * z_drift, -1.3, 1.3)[regime_start] / _TRADING_DAYS_PER_YEAR
        vol_multiplier = np.clip(np.exp(0.28 * z_regime_vol), 0.6, 1.9)[regime_start]
        daily_sd = profile.annual_volatility / math.sqrt(_TRADING_DAYS_PER_YEAR) * vol_multiplier
        gap_sd = daily_sd * math.sqrt(0.15)
        self.session_sd = daily_sd * math.sqrt(0.85)  # open-to-close volatility
        jump = np.where(u_jump < 0.012, z_jump * 3.0 * daily_sd, 0.0)

        # The level the walk reverts to grows at the symbol's growth rate (half-life ~ 2 years).
        days = table.days[anchor_index : anchor_index + count].astype(np.float64)
        level_ordinal = (_LEVEL_DAY - date(1970, 1, 1)).days
        years = (days - level_ordinal) / 365.25
        target = math.log(profile.price_level) + profile.annual_growth * years
        reversion = math.log(2) / 500
        # The walk is linear: o_i = x_(i-1) + gap_i and x_i = a * x_(i-1) + b_i with
        # a = 1 - reversion, so it is solved in closed form rather than looped over. a**-count
        # stays below ~300 for the calendar's range, far from any loss of precision.
        a = 1.0 - reversion
        b = a * (gap_sd * z_gap + jump) + reversion * target + drift + self.session_sd * z_return
        start = target[0] + 0.25 * float(z_gap[0])
        steps = np.arange(count, dtype=np.float64)
        powers = a ** (steps + 1)
        close_log = powers * start + powers * np.cumsum(b / powers)
        open_log = np.r_[start, close_log[:-1]] + gap_sd * z_gap + jump

        self.open_cents = np.maximum(np.rint(np.exp(open_log) * 100), 1).astype(np.int64)
        self.close_cents = np.maximum(np.rint(np.exp(close_log) * 100), 1).astype(np.int64)
        size = np.abs(close_log - open_log) / np.maximum(self.session_sd, 1e-9)
        spike = np.where((u_spike < 0.04) | (jump != 0), 2.0 + 2.0 * u_spike_size, 1.0)
        self.volume_target = (
            profile.average_volume
            * np.exp(0.3 * z_volume - 0.045)
            * (0.7 + 0.3 * np.minimum(size, 4.0))
            * spike
        )
        # Daily high/low/volume come from the minute paths and are filled in lazily.
        self.high_cents = np.zeros(count, dtype=np.int64)
        self.low_cents = np.zeros(count, dtype=np.int64)
        self.volume = np.zeros(count, dtype=np.int64)
        self.summarised = np.zeros(count, dtype=bool)
        self.lock = threading.Lock()

    def adopt_summaries(self, older: _Skeleton) -> None:
        """Keep the daily summaries a shorter skeleton of the same symbol already computed."""
        n = min(self.count, older.count)
        with older.lock:
            self.high_cents[:n] = older.high_cents[:n]
            self.low_cents[:n] = older.low_cents[:n]
            self.volume[:n] = older.volume[:n]
            self.summarised[:n] = older.summarised[:n]


@dataclass(frozen=True)
class _Minutes:
    """One session's 1-minute bars in cents/shares, plus the running volume."""

    index: int  # position in the session table
    open_seconds: int
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    cumulative_volume: np.ndarray


_profiles_lock = threading.Lock()
_PROFILES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _intraday_profile(minutes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Square roots and running sum of the variance weights (which sum to 1), volume weights."""
    profile = _PROFILES.get(minutes)
    if profile is None:
        x = (np.arange(minutes) + 0.5) / minutes
        # Markets move most just after the open and into the close.
        variance = 1.0 + 2.0 * np.exp(-x / 0.08) + 1.0 * np.exp(-(1 - x) / 0.08)
        variance /= variance.sum()
        volume = 0.6 + 2.5 * np.exp(-x / 0.05) + 3.0 * np.exp(-(1 - x) / 0.04)
        volume /= volume.sum()
        profile = (np.sqrt(variance), np.cumsum(variance), volume)
        with _profiles_lock:
            _PROFILES[minutes] = profile
    return profile


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
        self._skeletons = _LRU(_HISTORY_CACHE)
        self._minutes = _LRU(_MINUTE_CACHE)
        self._session_bars = _LRU(_SESSION_BARS_CACHE)
        self._assembled = _LRU(_ASSEMBLED_CACHE)
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

    def _skeleton(self, symbol: str, index: int) -> _Skeleton:
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

    def _new_skeleton(self, symbol: str, needed: int) -> _Skeleton:
        table = session_table()
        available = len(table) - self._anchor_index
        blocks = -(-(needed + _SKELETON_BLOCK // 2) // _SKELETON_BLOCK)
        count = min(available, blocks * _SKELETON_BLOCK)
        return _Skeleton(self.seed, symbol_profile(self.seed, symbol), count, self._anchor_index)

    def _session_minutes(self, symbol: str, index: int) -> _Minutes:
        return self._minutes.get_or_create(
            (symbol, index), lambda: self._generate_minutes(symbol, index)
        )

    def _generate_minutes(self, symbol: str, index: int) -> _Minutes:
        """The 1-minute path of one session (and its daily summary, filled in on the way)."""
        skeleton = self._skeleton(symbol, index)
        open_, high, low, close, volume = (m[0] for m in self._simulate(skeleton, [index]))
        return _Minutes(
            index=index,
            open_seconds=session_table().open_list[index],
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            cumulative_volume=np.cumsum(volume),
        )

    def _summarise(self, skeleton: _Skeleton, indices: list[int]) -> None:
        """Fill the daily high/low/volume of many sessions, simulated in batches by length."""
        for batch in self._by_length(indices):
            for start in range(0, len(batch), _BATCH):
                self._simulate(skeleton, batch[start : start + _BATCH])

    def _simulate(self, skeleton: _Skeleton, indices: list[int]) -> tuple[np.ndarray, ...]:
        """1-minute open/high/low/close/volume matrices (sessions x minutes, cents and shares).

        Each session is a Brownian bridge from its skeleton open to its skeleton close, with
        its own generator seeded by (seed, symbol, session date), so a session's minutes are
        the same whether it is simulated alone or in a batch. All `indices` share one length.
        """
        table = session_table()
        count = (table.close_list[indices[0]] - table.open_list[indices[0]]) // 60
        root_variance, running_variance, volume_weights = _intraday_profile(count)
        symbol = skeleton.profile.symbol
        sessions = len(indices)
        z = np.empty((sessions, 2, count))
        for row, index in enumerate(indices):
            z[row] = _normal((2, count), self.seed, symbol, table.day(index).isoformat())
        rows = np.asarray(indices) - self._anchor_index
        open_cents = skeleton.open_cents[rows][:, None].astype(np.float64)
        close_cents = skeleton.close_cents[rows][:, None].astype(np.float64)
        step_sd = root_variance * skeleton.session_sd[rows][:, None]  # (sessions, minutes)

        # Prices stay float64 holding whole cents: exact, and cheaper than integer casts.
        path = np.cumsum(z[:, 0] * step_sd, axis=1)
        path += running_variance * (np.log(close_cents / open_cents) - path[:, -1:])
        np.exp(path, out=path)
        path *= open_cents
        close = np.rint(path, out=path)
        np.maximum(close, 1.0, out=close)
        close[:, -1] = close_cents[:, 0]
        open_ = np.empty_like(close)
        open_[:, 0] = open_cents[:, 0]
        open_[:, 1:] = close[:, :-1]
        # Wicks beyond the body; the low uses the neighbouring minute's draw (a second
        # independent draw would cost more and look no different). exp(w) ~ 1 + w at this size.
        wick = np.abs(z[:, 1]) * step_sd * 0.6
        high = np.maximum(open_, close)
        high += np.rint(high * wick)
        low = np.minimum(open_, close)
        low -= np.rint(low * np.roll(wick, 1, axis=1))
        np.maximum(low, 1.0, out=low)
        # Volume follows the U-shaped profile and rises with the size of the minute's move.
        volume = volume_weights * (0.5 + np.abs(z[:, 0]))
        # Half-day sessions trade less: scale the day's volume by the share of a full session.
        target = skeleton.volume_target[rows] * (count / _FULL_SESSION_MINUTES)
        volume *= (target / volume.sum(axis=1))[:, None]
        np.rint(volume, out=volume)
        np.maximum(volume, 1.0, out=volume)

        with skeleton.lock:
            skeleton.high_cents[rows] = high.max(axis=1)
            skeleton.low_cents[rows] = low.min(axis=1)
            skeleton.volume[rows] = volume.sum(axis=1)
            skeleton.summarised[rows] = True
        return open_, high, low, close, volume

    def _tf_bars(
        self, symbol: str, indices: list[int], timeframe: str
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Sessions' bars of an intraday timeframe: index -> (open seconds, (n, 5) OHLCV)."""
        if timeframe == "1m":
            return {i: _aggregate_one(self._session_minutes(symbol, i), 1) for i in indices}
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
            batches = self._by_length(missing)
            for batch in (b[i : i + _BATCH] for b in batches for i in range(0, len(b), _BATCH)):
                matrices = self._simulate(skeleton, batch)
                for index, bars in zip(batch, _aggregate(batch, matrices, span), strict=True):
                    self._session_bars.put((symbol, index, timeframe), bars)
                    found[index] = bars
        return found

    @staticmethod
    def _by_length(indices: list[int]) -> list[list[int]]:
        """Sessions grouped by length (regular vs early close), so each group is one matrix."""
        table = session_table()
        groups: dict[int, list[int]] = {}
        for index in indices:
            length = table.close_list[index] - table.open_list[index]
            groups.setdefault(length, []).append(index)
        return list(groups.values())

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


def _aggregate(
    indices: list[int], matrices: tuple[np.ndarray, ...], span: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Session-aligned bars of `span` minutes for a batch of equally long sessions."""
    open_, high, low, close, volume = matrices
    count = open_.shape[1]
    starts = np.arange(0, count, span)
    last = np.minimum(starts + span, count) - 1
    values = np.stack(
        [
            open_[:, starts] / 100,
            np.maximum.reduceat(high, starts, axis=1) / 100,
            np.minimum.reduceat(low, starts, axis=1) / 100,
            close[:, last] / 100,
            np.add.reduceat(volume, starts, axis=1).astype(np.float64),
        ],
        axis=2,
    )  # (sessions, bars, 5)
    offsets = starts.astype(np.int64) * 60
    opens = session_table().open_list
    result = []
    for row, index in enumerate(indices):
        seconds = opens[index] + offsets
        bars = values[row].copy()  # own memory, so a cached session doesn't pin the batch
        seconds.setflags(write=False)
        bars.setflags(write=False)
        result.append((seconds, bars))
    return result


def _aggregate_one(minutes: _Minutes, span: int) -> tuple[np.ndarray, np.ndarray]:
    matrices = tuple(
        m[None, :] for m in (minutes.open, minutes.high, minutes.low, minutes.close, minutes.volume)
    )
    return _aggregate([minutes.index], matrices, span)[0]


def _seconds(moment: datetime, name: str) -> float:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.timestamp()
