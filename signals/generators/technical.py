"""Technical generators: golden/death cross, RSI extremes, volume spikes, MACD crossovers,
Bollinger and 20-day breakouts. Each detects a *crossing* on the last closed bar, not a state,
so a condition is announced when it starts rather than on every bar it lasts."""

from __future__ import annotations

import pandas as pd

from signals.generators.base import BarsGenerator, Detection, clamp
from signals.schemas import Direction


def _volume_ratio(bars: pd.DataFrame, average: float | None) -> float:
    """The last bar's volume over the average before it (1.0 when unknown)."""
    if not average:
        return 1.0
    return float(bars["volume"].iloc[-1]) / average


class GoldenCrossGenerator(BarsGenerator):
    """SMA 50 crossing above SMA 200 on daily bars (golden cross, BULLISH), or below it (death
    cross, BEARISH). Confidence starts at 50 and grows with how far the close already is from
    SMA 200 in the cross's direction (up to +30 at 15 %) and with the day's volume over its
    20-day average (up to +20 at twice the average)."""

    name = "golden_cross"
    signal_types = ("golden_cross", "death_cross")
    default_interval = 900.0
    timeframe = "1d"
    indicators = ("SMA_50", "SMA_200", "AVG_VOLUME_20")
    bars_needed = 201
    bars_fetched = 210

    def detect(self, bars, latest, previous) -> list[Detection]:
        fast, slow = latest["sma_50"], latest["sma_200"]
        fast_before, slow_before = previous["sma_50"], previous["sma_200"]
        if None in (fast, slow, fast_before, slow_before):
            return []
        if fast_before <= slow_before and fast > slow:
            signal_type, direction, sign = "golden_cross", Direction.BULLISH, 1.0
        elif fast_before >= slow_before and fast < slow:
            signal_type, direction, sign = "death_cross", Direction.BEARISH, -1.0
        else:
            return []
        close = float(bars["close"].iloc[-1])
        spread_pct = sign * (close - slow) / slow * 100
        volume_ratio = _volume_ratio(bars, previous["avg_volume_20"])
        confidence = 50 + clamp(spread_pct * 2, 0, 30) + clamp((volume_ratio - 1) * 20, 0, 20)
        return [(signal_type, direction, confidence)]


class RsiGenerator(BarsGenerator):
    """RSI 14 on hourly bars dropping below 30 (oversold: BULLISH, a bounce is likely) or rising
    above 70 (overbought: BEARISH). Confidence 50 at the line, +2.5 per point beyond it."""

    name = "rsi"
    signal_types = ("rsi_oversold", "rsi_overbought")
    default_interval = 300.0
    timeframe = "1h"
    indicators = ("RSI_14",)
    bars_needed = 16
    bars_fetched = 120  # Wilder smoothing settles after a few times the period
    oversold = 30.0
    overbought = 70.0

    def detect(self, bars, latest, previous) -> list[Detection]:
        rsi, rsi_before = latest["rsi_14"], previous["rsi_14"]
        if rsi is None or rsi_before is None:
            return []
        if rsi_before >= self.oversold > rsi:
            confidence = clamp(50 + (self.oversold - rsi) * 2.5, 50, 100)
            return [("rsi_oversold", Direction.BULLISH, confidence)]
        if rsi_before <= self.overbought < rsi:
            confidence = clamp(50 + (rsi - self.overbought) * 2.5, 50, 100)
            return [("rsi_overbought", Direction.BEARISH, confidence)]
        return []


class VolumeSpikeGenerator(BarsGenerator):
    """A 15-minute bar trading at least 2.5× the average volume of the 20 bars before it; its
    direction is the bar's (close above open: BULLISH). Confidence 50 at 2.5×, +10 per extra ×."""

    name = "volume_spike"
    signal_types = ("volume_spike",)
    default_interval = 60.0
    timeframe = "15m"
    indicators = ("AVG_VOLUME_20",)
    bars_needed = 21
    bars_fetched = 30
    multiple = 2.5

    def detect(self, bars, latest, previous) -> list[Detection]:
        ratio = _volume_ratio(bars, previous["avg_volume_20"])
        if ratio < self.multiple:
            return []
        open_, close = float(bars["open"].iloc[-1]), float(bars["close"].iloc[-1])
        direction = (
            Direction.BULLISH
            if close > open_
            else Direction.BEARISH
            if close < open_
            else Direction.NEUTRAL
        )
        return [("volume_spike", direction, clamp(50 + (ratio - self.multiple) * 10, 50, 100))]


class MacdGenerator(BarsGenerator):
    """MACD (12/26/9) crossing its signal line on hourly bars: up is BULLISH, down BEARISH.
    A cross far from the zero line means more momentum: 55, +10 per 0.5 % of price, up to 95."""

    name = "macd"
    signal_types = ("macd_crossover",)
    default_interval = 300.0
    timeframe = "1h"
    indicators = ("MACD",)
    bars_needed = 36
    bars_fetched = 120

    def detect(self, bars, latest, previous) -> list[Detection]:
        macd, signal = latest["macd"], latest["macd_signal"]
        macd_before, signal_before = previous["macd"], previous["macd_signal"]
        if None in (macd, signal, macd_before, signal_before):
            return []
        if macd_before <= signal_before and macd > signal:
            direction = Direction.BULLISH
        elif macd_before >= signal_before and macd < signal:
            direction = Direction.BEARISH
        else:
            return []
        close = float(bars["close"].iloc[-1])
        distance_pct = abs(macd) / close * 100 if close else 0.0
        return [("macd_crossover", direction, clamp(55 + distance_pct * 20, 55, 95))]


class BollingerGenerator(BarsGenerator):
    """A daily close breaking out of the 20-day, 2σ Bollinger bands (above: BULLISH). Confidence
    50 at the band, growing with how far beyond it the close is, in band widths."""

    name = "bollinger"
    signal_types = ("bollinger_breakout",)
    default_interval = 900.0
    timeframe = "1d"
    indicators = ("BB",)
    bars_needed = 21
    bars_fetched = 40

    def detect(self, bars, latest, previous) -> list[Detection]:
        upper, lower = latest["bb_upper"], latest["bb_lower"]
        upper_before, lower_before = previous["bb_upper"], previous["bb_lower"]
        if None in (upper, lower, upper_before, lower_before) or upper <= lower:
            return []
        close = float(bars["close"].iloc[-1])
        close_before = float(bars["close"].iloc[-2])
        width = upper - lower
        if close > upper and close_before <= upper_before:
            excess, direction = (close - upper) / width, Direction.BULLISH
        elif close < lower and close_before >= lower_before:
            excess, direction = (lower - close) / width, Direction.BEARISH
        else:
            return []
        return [("bollinger_breakout", direction, clamp(50 + excess * 100, 50, 100))]


class BreakoutGenerator(BarsGenerator):
    """A daily close above the highest high (BULLISH) or below the lowest low (BEARISH) of the
    20 sessions before it. Confidence 50, up to +30 for volume over average, +20 for distance."""

    name = "breakout"
    signal_types = ("breakout_20d",)
    default_interval = 900.0
    timeframe = "1d"
    indicators = ("AVG_VOLUME_20",)
    bars_needed = 22
    bars_fetched = 30
    lookback = 20

    def detect(self, bars, latest, previous) -> list[Detection]:
        n = self.lookback
        highs, lows, closes = bars["high"], bars["low"], bars["close"]
        close, close_before = float(closes.iloc[-1]), float(closes.iloc[-2])
        high_before, high_earlier = (
            float(highs.iloc[-n - 1 : -1].max()),
            float(highs.iloc[-n - 2 : -2].max()),
        )
        low_before, low_earlier = (
            float(lows.iloc[-n - 1 : -1].min()),
            float(lows.iloc[-n - 2 : -2].min()),
        )
        if close > high_before and close_before <= high_earlier:
            distance_pct, direction = (close - high_before) / high_before * 100, Direction.BULLISH
        elif close < low_before and close_before >= low_earlier:
            distance_pct, direction = (low_before - close) / low_before * 100, Direction.BEARISH
        else:
            return []
        volume_ratio = _volume_ratio(bars, previous["avg_volume_20"])
        confidence = 50 + clamp((volume_ratio - 1) * 30, 0, 30) + clamp(distance_pct * 10, 0, 20)
        return [("breakout_20d", direction, confidence)]
