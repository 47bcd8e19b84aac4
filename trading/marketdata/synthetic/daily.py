"""The daily price process: each symbol's profile, and its skeleton of session opens, closes,
volatility and volume targets from ANCHOR, drawn in one prefix-stable stream."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date

import numpy as np

from trading.calendar import session_table
from trading.marketdata.seeding import normal as _normal
from trading.marketdata.seeding import uniform as _uniform
from trading.marketdata.universe import INDEX_FUNDS

ANCHOR = date(2015, 1, 2)
# A symbol's price level (drawn from 20-600) is roughly where it trades on this day.
_LEVEL_DAY = date(2026, 1, 2)
_TRADING_DAYS_PER_YEAR = 252


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


class Skeleton:
    """One symbol's daily path from ANCHOR: open/close cents, volatility and volume target."""

    def __init__(self, seed: int, profile: SymbolProfile, count: int, anchor_index: int):
        self.seed = seed
        self.anchor_index = anchor_index
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

    def adopt_summaries(self, older: Skeleton) -> None:
        """Keep the daily summaries a shorter skeleton of the same symbol already computed."""
        n = min(self.count, older.count)
        with older.lock:
            self.high_cents[:n] = older.high_cents[:n]
            self.low_cents[:n] = older.low_cents[:n]
            self.volume[:n] = older.volume[:n]
            self.summarised[:n] = older.summarised[:n]
