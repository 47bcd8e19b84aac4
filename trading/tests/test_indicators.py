"""Indicators: name parsing, TA-Lib values against hand-checkable series, VWAP, latest values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trading.indicators import (
    DEFAULT_INDICATORS,
    compute_indicators,
    latest_values,
    output_keys,
    parse_indicator,
)

from .conftest import HALF_DAY_NOON


def _bars(close, *, start="2026-11-24 14:30", freq="5min", spread=1.0, volume=1000.0):
    close = np.asarray(close, dtype=float)
    index = pd.date_range(start, periods=len(close), freq=freq, tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": close,
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": np.broadcast_to(np.asarray(volume, dtype=float), close.shape).copy(),
        },
        index=index,
    )


@pytest.mark.parametrize(
    ("name", "canonical", "outputs"),
    [
        ("SMA_20", "SMA_20", ("sma_20",)),
        ("sma_50", "SMA_50", ("sma_50",)),
        ("SMA_200", "SMA_200", ("sma_200",)),
        ("EMA_9", "EMA_9", ("ema_9",)),
        ("ema_20", "EMA_20", ("ema_20",)),
        ("EMA_50", "EMA_50", ("ema_50",)),
        ("RSI", "RSI_14", ("rsi_14",)),
        ("rsi_7", "RSI_7", ("rsi_7",)),
        ("MACD", "MACD", ("macd", "macd_signal", "macd_hist")),
        ("BB", "BB", ("bb_upper", "bb_middle", "bb_lower")),
        ("bbands", "BB", ("bb_upper", "bb_middle", "bb_lower")),
        ("ATR", "ATR_14", ("atr_14",)),
        ("VWAP", "VWAP", ("vwap",)),
        ("VOLUME_AVG", "AVG_VOLUME_20", ("avg_volume_20",)),
        ("avg_volume", "AVG_VOLUME_20", ("avg_volume_20",)),
    ],
)
def test_it_parses_the_specified_names(name, canonical, outputs):
    spec = parse_indicator(name)
    assert spec.name == canonical
    assert spec.outputs == outputs


@pytest.mark.parametrize("name", ["FOO", "SMA_0", "SMA_x", "MACD_5", "", "BB_20", "RSI_1"])
def test_it_rejects_unknown_names_listing_the_valid_ones(name):
    with pytest.raises(ValueError, match="indicator") as error:
        parse_indicator(name)
    if name in ("FOO", "SMA_x", "MACD_5", "BB_20"):
        assert "valid names are" in str(error.value)
        assert "SMA_<n>" in str(error.value)
        assert "VWAP" in str(error.value)


def test_it_computes_a_simple_moving_average_by_hand():
    frame = compute_indicators(_bars(range(1, 31)), ["SMA_5"])
    sma = frame["sma_5"]
    assert sma.iloc[:4].isna().all()
    assert sma.iloc[4] == 3.0  # (1+2+3+4+5)/5
    assert sma.iloc[-1] == 28.0  # (26+...+30)/5
    assert frame.index.equals(_bars(range(1, 31)).index)


def test_it_keeps_an_ema_of_a_flat_series_flat():
    ema = compute_indicators(_bars([50.0] * 40), ["EMA_9"])["ema_9"]
    assert ema.iloc[:8].isna().all()
    assert np.allclose(ema.iloc[8:], 50.0)


def test_it_bounds_rsi_and_pins_it_for_one_way_series():
    rising = compute_indicators(_bars(np.arange(1.0, 41.0)), ["RSI"])["rsi_14"]
    falling = compute_indicators(_bars(np.arange(40.0, 0.0, -1)), ["RSI"])["rsi_14"]
    assert rising.iloc[:14].isna().all()
    assert rising.iloc[-1] == pytest.approx(100.0)
    assert falling.iloc[-1] == pytest.approx(0.0)
    noisy = np.cumsum(np.random.default_rng(1).normal(size=500)) + 100
    rsi = compute_indicators(_bars(noisy), ["RSI_7"])["rsi_7"].dropna()
    assert rsi.between(0, 100).all()
    assert rsi.min() < 30
    assert rsi.max() > 70


def test_it_makes_the_macd_histogram_the_gap_between_macd_and_signal():
    close = 100 + np.sin(np.linspace(0, 12, 200)) * 5
    frame = compute_indicators(_bars(close), ["MACD"])
    assert frame.iloc[:33].isna().all().all()  # 26 + 9 - 2 bars of warm-up
    valid = frame.dropna()
    assert len(valid) == 200 - 33
    assert np.allclose(valid["macd_hist"], valid["macd"] - valid["macd_signal"])


def test_it_orders_bollinger_bands_two_deviations_around_the_sma():
    close = 100 + np.cumsum(np.random.default_rng(2).normal(size=120))
    frame = compute_indicators(_bars(close), ["BB", "SMA_20"]).dropna()
    assert (frame["bb_upper"] >= frame["bb_middle"]).all()
    assert (frame["bb_middle"] >= frame["bb_lower"]).all()
    assert np.allclose(frame["bb_middle"], frame["sma_20"])
    last_20 = close[-20:]
    assert frame["bb_upper"].iloc[-1] == pytest.approx(last_20.mean() + 2 * last_20.std())
    assert frame["bb_lower"].iloc[-1] == pytest.approx(last_20.mean() - 2 * last_20.std())


def test_it_measures_true_range_and_average_volume():
    frame = compute_indicators(
        _bars([10.0] * 30, spread=1.0, volume=np.arange(1.0, 31.0)), ["ATR", "AVG_VOLUME"]
    )
    assert frame["atr_14"].iloc[:14].isna().all()
    assert np.allclose(frame["atr_14"].iloc[14:], 2.0)  # high - low, no gaps
    assert frame["avg_volume_20"].iloc[19] == pytest.approx(10.5)  # mean of 1..20
    assert frame["avg_volume_20"].iloc[-1] == pytest.approx(20.5)  # mean of 11..30


def test_it_anchors_intraday_vwap_at_each_session_open():
    first = _bars([10.0, 12.0, 14.0], start="2026-11-24 14:30", volume=[100.0, 300.0, 100.0])
    second = _bars([20.0, 22.0], start="2026-11-25 14:30", volume=[50.0, 150.0])
    frame = compute_indicators(pd.concat([first, second]), ["VWAP"], timeframe="5m")
    # Typical price equals close here (high and low are symmetric around it).
    assert frame["vwap"].tolist() == pytest.approx(
        [10.0, (10 * 100 + 12 * 300) / 400, (10 * 100 + 12 * 300 + 14 * 100) / 500, 20.0, 21.5]
    )


def test_it_rolls_a_twenty_bar_vwap_for_daily_bars():
    close = np.arange(1.0, 26.0)
    volume = np.where(np.arange(25) % 2 == 0, 100.0, 300.0)
    daily = _bars(close, start="2026-10-01 14:30", freq="1D", volume=volume)
    vwap = compute_indicators(daily, ["VWAP"])["vwap"]  # daily inferred from the spacing
    assert vwap.iloc[:19].isna().all()
    window = slice(5, 25)
    expected = (close[window] * volume[window]).sum() / volume[window].sum()
    assert vwap.iloc[-1] == pytest.approx(expected)


def test_it_returns_latest_and_previous_values_with_none_for_gaps():
    frame = compute_indicators(_bars(range(1, 8)), ["SMA_5", "SMA_20"])
    latest, previous = latest_values(frame)
    assert latest == {"sma_5": 5.0, "sma_20": None}
    assert previous == {"sma_5": 4.0, "sma_20": None}
    _, three_back = latest_values(frame, n_back=3)
    assert three_back == {"sma_5": None, "sma_20": None}  # row 3 is still warming up
    latest, too_far = latest_values(frame, n_back=10)
    assert too_far == {"sma_5": None, "sma_20": None}
    assert all(isinstance(v, float) for v in latest.values() if v is not None)
    assert latest_values(frame.iloc[0:0]) == ({"sma_5": None, "sma_20": None},) * 2


def test_it_computes_the_default_set_over_provider_bars(synthetic):
    for timeframe in ("5m", "1h", "1d"):
        bars = synthetic.bars("AAPL", timeframe, end=HALF_DAY_NOON, limit=300)
        frame = compute_indicators(bars, DEFAULT_INDICATORS, timeframe=timeframe)
        assert list(frame.columns) == output_keys(DEFAULT_INDICATORS)
        latest, previous = latest_values(frame)
        assert all(value is not None and math.isfinite(value) for value in latest.values())
        assert all(value is not None for value in previous.values())
        assert 0 <= latest["rsi_14"] <= 100
        assert latest["bb_lower"] <= latest["bb_middle"] <= latest["bb_upper"]
    assert set(output_keys(DEFAULT_INDICATORS)) >= {
        "sma_20", "sma_50", "sma_200", "ema_9", "ema_20", "rsi_14", "macd", "macd_signal",
        "macd_hist", "bb_upper", "bb_middle", "bb_lower", "atr_14", "vwap", "avg_volume_20",
    }  # fmt: skip


def test_it_handles_empty_bars():
    empty = _bars([])
    frame = compute_indicators(empty, ["SMA_20", "MACD"])
    assert frame.empty
    assert list(frame.columns) == ["sma_20", "macd", "macd_signal", "macd_hist"]
