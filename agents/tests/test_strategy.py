"""Strategy agent: entry, stop loss and targets in the bias's direction, or no trade and why."""

from __future__ import annotations

import pytest

from agents.builtin.strategy import StrategyAgent
from agents.errors import InsufficientData
from agents.registry import validate_node_config
from agents.state import BiasSignal, BiasType, MarketData, TimeframeData, TradeSide
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state

ATR = 2.5 / 1.5  # 1.5 ATR = $2.50 of risk


def candles(lows: list[float], highs: list[float]) -> list[dict]:
    return [
        {"t": f"2026-11-24T14:{i:02d}:00+00:00", "o": low, "h": high, "l": low, "c": high, "v": 1}
        for i, (low, high) in enumerate(zip(lows, highs, strict=True))
    ]


def state_for(
    *,
    bias: BiasType | None = BiasType.BULLISH,
    close: float = 150.50,
    indicators: dict | None = None,
    recent: list[dict] | None = None,
    timeframe: str = "5m",
):
    frame = TimeframeData(
        timeframe=timeframe,
        ohlcv={"open": 150.0, "high": 150.8, "low": 149.9, "close": close, "volume": 1e6},
        indicators={"atr_14": ATR, "rsi_14": 58.0, "macd_hist": 0.12} | (indicators or {}),
        candles=recent or [],
        bar_count=300,
    )
    state = make_state(["AAPL"])
    state.market_data["AAPL"] = MarketData(
        symbol="AAPL",
        current_price=close,
        bid=close - 0.01,
        ask=close + 0.01,
        volume=1000,
        timestamp=SESSION_NOW,
        timeframes={timeframe: frame},
    )
    if bias is not None:
        state.bias_results["AAPL"] = BiasSignal(
            symbol="AAPL", bias=bias, confidence=78, bias_score=0.8, reasoning="Trend."
        )
    return state


def plan(config=None, **state_options):
    agent = build_agent("strategy_agent", config)
    return agent.process(state_for(**state_options), make_context()), agent


def test_a_bullish_bias_gets_an_atr_stop_and_r_multiple_targets():
    state, agent = plan()

    signal = state.strategy_signals["AAPL"]
    assert signal.action == TradeSide.BUY
    assert (signal.entry_price, signal.stop_loss, signal.target_1, signal.target_2) == (
        150.50,
        148.00,
        154.25,
        158.00,
    )
    assert signal.risk_reward_ratio == 1.5
    assert signal.risk_per_share == pytest.approx(2.50)
    assert set(signal.level_reasoning) == {"entry", "stop_loss", "target_1", "target_2"}
    assert signal.level_reasoning["stop_loss"] == (
        "Stop loss 1.5 x ATR(14) (1.67) below the entry: 148.00."
    )
    assert signal.level_reasoning["entry"] == (
        "Market entry at the last closed 5m bar's close, 150.50."
    )
    # The 5m MACD histogram agrees with the bias: conviction rises above the bias's 78%.
    assert signal.conviction == 83
    assert "5m MACD histogram confirms (+0.120)" in signal.technical_factors
    assert state.symbols == ["AAPL"]
    assert agent.summarize(state) == (
        "AAPL: buy @ 150.50, stop 148.00, targets 154.25 / 158.00 (1.5R)"
    )


def test_a_bearish_bias_sells_short_with_the_stop_above():
    state, _ = plan(bias=BiasType.BEARISH)

    signal = state.strategy_signals["AAPL"]
    assert signal.action == TradeSide.SELL
    assert (signal.stop_loss, signal.target_1, signal.target_2) == (153.00, 146.75, 143.00)
    assert signal.conviction == 68  # the MACD histogram disagrees with a short


def test_a_swing_stop_sits_at_the_lowest_low_of_the_lookback():
    recent = candles([149.0] * 5 + [147.2, 148.1, 149.3, 149.8, 150.1], [151.0] * 10)

    state, _ = plan({"stop_method": "swing", "swing_lookback": 10}, recent=recent)

    signal = state.strategy_signals["AAPL"]
    assert signal.stop_loss == 147.20
    assert signal.target_1 == 155.45  # 150.50 + 1.5 x 3.30
    assert signal.level_reasoning["stop_loss"] == (
        "Stop loss at the 10-bar swing low on 5m: 147.20."
    )


def test_no_trade_when_the_swing_is_not_beyond_the_entry():
    recent = candles([151.0] * 10, [152.0] * 10)

    state, _ = plan({"stop_method": "swing"}, recent=recent)

    assert state.symbols == []
    assert "swing low (151.00) is not beyond the entry" in state.warnings[0].message


def test_level_targets_use_the_nearest_swing_high_and_band():
    highs = [151.0, 155.0, 152.0, 151.0, 150.9, 150.8]
    recent = candles([150.0] * 6, highs)

    state, _ = plan({"target_method": "levels"}, recent=recent, indicators={"bb_upper": 158.5})

    signal = state.strategy_signals["AAPL"]
    assert (signal.target_1, signal.target_2) == (155.00, 158.50)
    assert signal.risk_reward_ratio == 1.8
    assert (
        signal.level_reasoning["target_1"] == "Target 1 at the nearest swing high: 155.00 (1.80R)."
    )
    assert signal.level_reasoning["target_2"] == (
        "Target 2 at the next upper Bollinger band: 158.50 (3.20R)."
    )


def test_a_near_level_makes_risk_reward_too_low_and_the_symbol_drops():
    recent = candles([150.0] * 3, [151.0, 152.0, 151.0])

    state, _ = plan({"target_method": "levels"}, recent=recent, indicators={"bb_upper": 156.0})

    assert state.strategy_signals == {}
    assert state.symbols == []
    assert state.warnings[0].symbol == "AAPL"
    assert state.warnings[0].message == (
        "AAPL: no trade — reward to target 1 is 0.6R, below the 1.5R minimum "
        "(entry 150.50, stop 148.00, target 1 152.00)."
    )


@pytest.mark.parametrize("bias", [BiasType.NEUTRAL, None])
def test_no_trade_without_a_directional_bias(bias):
    state, agent = plan(bias=bias)

    assert state.symbols == []
    assert state.strategy_signals == {}
    assert state.warnings[0].message.startswith("AAPL: no trade — ")
    assert agent.summarize(state) == "No symbols left to plan"


def test_an_atr_stop_needs_the_atr_indicator():
    state = state_for()
    del state.market_data["AAPL"].timeframes["5m"].indicators["atr_14"]

    with pytest.raises(InsufficientData, match="add ATR to the Market Data agent's indicators"):
        build_agent("strategy_agent").process(state, make_context())


def test_it_names_the_timeframe_it_needs():
    with pytest.raises(InsufficientData) as raised:
        plan({"timeframe": "15m"})

    assert str(raised.value) == (
        "Strategy agent needs 15m market data for AAPL; add 15m to the Market Data agent's "
        "timeframes."
    )


def test_its_schema_fills_defaults_and_declares_its_timeframe():
    config, errors = validate_node_config("strategy_agent", {})
    _, bad = validate_node_config("strategy_agent", {"risk_reward_min": 0.5})

    assert errors == []
    assert config == {
        "timeframe": "5m",
        "risk_reward_min": 1.5,
        "stop_method": "atr",
        "atr_multiplier": 1.5,
        "swing_lookback": 10,
        "target_method": "r_multiple",
        "target_1_r": 1.5,
        "target_2_r": 3.0,
        "creativity": 0.7,
        "engine": "rules",
        "fallback_to_rules": False,
        "model": "",
    }
    assert [error.field for error in bad] == ["risk_reward_min"]
    assert StrategyAgent.required_timeframes(config) == {"5m"}


def test_targets_round_away_from_the_entry_so_the_reward_never_falls_short():
    # Risk $0.77: 1.5R is $1.155, which rounded half up (166.26) would be only 1.49R.
    state, _ = plan(bias=BiasType.BEARISH, close=167.41, indicators={"atr_14": 0.77 / 1.5})

    signal = state.strategy_signals["AAPL"]
    assert (signal.stop_loss, signal.target_1, signal.target_2) == (168.18, 166.25, 165.10)
    assert signal.risk_reward_ratio == 1.51
