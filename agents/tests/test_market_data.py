"""Market data agent: quotes, closed bars and indicators per symbol and timeframe."""

from __future__ import annotations

import pytest

from agents.errors import AgentError
from agents.registry import validate_node_config
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state
from agents.tests.providers import downtrend, scenario_provider, uptrend
from trading.indicators import DEFAULT_INDICATORS


def fetch(symbols, config=None, *, provider=None, required=frozenset()):
    provider = provider or scenario_provider(
        {"UP": uptrend(), "DOWN": downtrend()}, now=SESSION_NOW
    )
    state = make_state(symbols)
    context = make_context(market_data=provider, required_timeframes=required)
    agent = build_agent("market_data_agent", config)
    return agent.process(state, context), provider, agent


def test_its_defaults_follow_the_spec():
    config, errors = validate_node_config("market_data_agent", {})

    assert errors == []
    assert config == {
        "timeframes": ["5m", "1h", "4h", "1d"],
        "indicators": DEFAULT_INDICATORS,
        "lookback_bars": 300,
        "candles_in_state": 60,
    }


def test_it_fills_each_symbol_and_timeframe():
    state, provider, _ = fetch(["UP", "DOWN"])

    assert state.symbols == ["UP", "DOWN"]
    up = state.market_data["UP"]
    assert list(up.timeframes) == ["5m", "1h", "4h", "1d"]
    five = up.timeframes["5m"]
    assert five.bar_count == 300
    assert five.ohlcv["close"] == pytest.approx(uptrend()[-1])
    assert set(five.indicators) == {
        "sma_20", "sma_50", "sma_200", "ema_9", "ema_20", "rsi_14", "macd", "macd_signal",
        "macd_hist", "bb_upper", "bb_middle", "bb_lower", "atr_14", "vwap", "avg_volume_20",
    }  # fmt: skip
    assert five.indicators["rsi_14"] == pytest.approx(88.3, abs=0.1)
    assert five.previous_indicators["sma_20"] < five.indicators["sma_20"]
    assert len(five.candles) == 60
    last = five.candles[-1]
    assert last == {
        "t": "2026-11-24T14:50:00+00:00",
        "o": pytest.approx(uptrend()[-2]),
        "h": pytest.approx(max(uptrend()[-2:]) * 1.004),
        "l": pytest.approx(min(uptrend()[-2:]) * 0.996),
        "c": pytest.approx(uptrend()[-1]),
        "v": 1_000_000.0,
    }
    assert up.current_price == pytest.approx(uptrend()[-1])
    # One batched quote call for all symbols, bars fetched once per symbol and timeframe.
    assert provider.quote_calls == [["UP", "DOWN"]]
    assert sorted(provider.bar_calls) == sorted(
        (symbol, tf, 300) for symbol in ("UP", "DOWN") for tf in ("5m", "1h", "4h", "1d")
    )


def test_it_computes_only_the_indicators_asked_for():
    state, _, _ = fetch(["UP"], {"timeframes": ["1d"], "indicators": ["RSI", "SMA_50"]})

    assert set(state.market_data["UP"].timeframes["1d"].indicators) == {"rsi_14", "sma_50"}


def test_it_adds_the_timeframes_later_agents_read():
    state, _, _ = fetch(["UP"], {"timeframes": ["1d"]}, required=frozenset({"4h", "5m"}))

    assert list(state.market_data["UP"].timeframes) == ["5m", "4h", "1d"]


def test_a_symbol_without_bars_is_dropped_with_an_error():
    state, _, _ = fetch(["UP", "GONE"], {"timeframes": ["1d"]})

    assert state.symbols == ["UP"]
    assert "GONE" not in state.market_data
    assert len(state.errors) == 1
    assert state.errors[0].symbol == "GONE"
    assert state.errors[0].message.startswith("GONE: no market data (1d: unknown symbol GONE")


def test_it_fails_when_no_symbol_has_data():
    with pytest.raises(AgentError, match="no data for any symbol"):
        fetch(["GONE", "LOST"], {"timeframes": ["1d"]})


def test_a_missing_quote_falls_back_to_the_last_close_with_a_warning():
    provider = scenario_provider({"UP": uptrend()}, now=SESSION_NOW, quotes={})

    state, _, _ = fetch(["UP"], {"timeframes": ["1h", "1d"]}, provider=provider)

    assert state.market_data["UP"].current_price == pytest.approx(uptrend()[-1])
    assert [w.message for w in state.warnings] == ["UP: no quote; using the last 1h close."]


def test_it_names_an_unknown_indicator():
    with pytest.raises(AgentError, match="unknown indicator 'STOCH'"):
        fetch(["UP"], {"indicators": ["STOCH"]})


def test_its_summary_lists_prices_and_timeframes():
    state, _, agent = fetch(["UP"], {"timeframes": ["1h", "1d"]})

    assert agent.summarize(state) == f"UP {uptrend()[-1]:.2f} on 1h, 1d"


def test_a_changed_bar_is_never_answered_from_an_earlier_run():
    provider = scenario_provider({"UP": uptrend()}, now=SESSION_NOW)
    first, _, _ = fetch(["UP"], {"timeframes": ["1h"]}, provider=provider)
    again, _, _ = fetch(["UP"], {"timeframes": ["1h"]}, provider=provider)
    provider.frames["UP"]["1h"].iloc[-1, 3] = 150.0  # the last close, revised by the vendor

    revised, _, _ = fetch(["UP"], {"timeframes": ["1h"]}, provider=provider)

    assert again.market_data["UP"].timeframes == first.market_data["UP"].timeframes
    hour = revised.market_data["UP"].timeframes["1h"]
    assert hour.ohlcv["close"] == 150.0
    assert hour.candles[-1]["c"] == 150.0
    assert hour.indicators["sma_20"] < first.market_data["UP"].timeframes["1h"].indicators["sma_20"]
