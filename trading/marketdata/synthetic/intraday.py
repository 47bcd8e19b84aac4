"""One session's 1-minute path (a Brownian bridge from the skeleton's open to its close, with a
U-shaped volatility and volume profile) and the coarser bars aggregated from it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from trading.calendar import session_table
from trading.marketdata.seeding import normal as _normal
from trading.marketdata.synthetic.daily import Skeleton

_FULL_SESSION_MINUTES = 390
# Sessions simulated per matrix: small enough that the temporaries stay in the CPU cache.
_BATCH = 32


@dataclass(frozen=True)
class Minutes:
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


def batches(indices: list[int]) -> Iterator[list[int]]:
    """The sessions in matrices of at most _BATCH, each of one session length."""
    for group in _by_length(indices):
        for start in range(0, len(group), _BATCH):
            yield group[start : start + _BATCH]


def _by_length(indices: list[int]) -> list[list[int]]:
    """Sessions grouped by length (regular vs early close), so each group is one matrix."""
    table = session_table()
    groups: dict[int, list[int]] = {}
    for index in indices:
        length = table.close_list[index] - table.open_list[index]
        groups.setdefault(length, []).append(index)
    return list(groups.values())


def simulate(skeleton: Skeleton, indices: list[int]) -> tuple[np.ndarray, ...]:
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
        z[row] = _normal((2, count), skeleton.seed, symbol, table.day(index).isoformat())
    rows = np.asarray(indices) - skeleton.anchor_index
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


def aggregate(
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


def aggregate_one(minutes: Minutes, span: int) -> tuple[np.ndarray, np.ndarray]:
    matrices = tuple(
        m[None, :] for m in (minutes.open, minutes.high, minutes.low, minutes.close, minutes.volume)
    )
    return aggregate([minutes.index], matrices, span)[0]
