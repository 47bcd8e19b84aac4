"""Bias agent: trend and momentum across timeframes into a bias; unclear symbols drop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.builtin.bias import BiasAgent
from agents.errors import InsufficientData
from agents.registry import validate_node_config
from agents.state import BiasType
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state
from agents.tests.providers import (
    ScenarioProvider,
    bars_frame,
    downtrend,
    flat,
    scenario_provider,
    uptrend,
)


def analysed(provider, symbols, bias_config=None, data_config=None, llm=None):
    context = make_context(market_data=provider, llm=llm)
    state = build_agent("market_data_agent", data_config).process(make_state(symbols), context)
    agent = build_agent("bias_agent", bias_config)
    return agent.process(state, context), agent


def trends(**extra):
    shapes = {"UP": uptrend(), "DOWN": downtrend(), "FLAT": flat(), **extra}
    return scenario_provider(shapes, now=SESSION_NOW)


def test_an_uptrend_reads_bullish_with_its_reasons():
    state, _ = analysed(trends(), ["UP"])

    signal = state.bias_results["UP"]
    assert signal.bias == BiasType.BULLISH
    assert signal.confidence > 90
    assert signal.bias_score > 0.9
    assert signal.engine == "rules"
    assert "1d: close above SMA200" in signal.factors
    assert "4h: SMAs stacked bullishly (SMA20 > SMA50 > SMA200)" in signal.factors
    assert "1h: MACD histogram rising" in signal.factors
    assert {tf: row["weight"] for tf, row in signal.timeframe_breakdown.items()} == {
        "1h": 1.5,
        "4h": 2.0,
        "1d": 3.0,
    }
    assert signal.timeframe_breakdown["1d"]["direction"] == "bullish"
    assert 2 <= signal.reasoning.count(". ") + 1 <= 4
    assert signal.reasoning.startswith("UP reads bullish with")
    assert state.symbols == ["UP"]


def test_a_downtrend_reads_bearish_and_stays():
    state, _ = analysed(trends(), ["DOWN"])

    assert state.bias_results["DOWN"].bias == BiasType.BEARISH
    assert "1d: close below SMA200" in state.bias_results["DOWN"].factors
    assert state.symbols == ["DOWN"]


def test_a_flat_market_is_neutral_and_dropped_but_its_reading_is_kept():
    state, agent = analysed(trends(), ["UP", "FLAT"])

    assert state.bias_results["FLAT"].bias == BiasType.NEUTRAL
    assert state.bias_results["FLAT"].bias_score == 0
    assert state.bias_results["FLAT"].confidence < 50
    assert state.symbols == ["UP"]
    assert [(w.symbol, w.message.split(":")[0]) for w in state.warnings] == [
        ("FLAT", "FLAT dropped")
    ]
    assert agent.summarize(state).endswith("— 1 dropped")


def test_a_confidence_threshold_drops_a_clear_trend_it_finds_too_weak():
    state, _ = analysed(trends(), ["UP"], {"confidence_threshold": 99})

    assert state.symbols == []
    assert state.bias_results["UP"].bias == BiasType.BULLISH
    assert state.warnings[0].message == (
        f"UP dropped: bullish confidence {state.bias_results['UP'].confidence:.0f}% is below 99%."
    )


def mixed(hourly, higher) -> ScenarioProvider:
    frames = {
        "MIX": {
            "1h": bars_frame(
                hourly, last_open=datetime(2026, 11, 24, 13, 30, tzinfo=UTC), timeframe="1h"
            ),
            "4h": bars_frame(
                higher, last_open=datetime(2026, 11, 23, 18, 30, tzinfo=UTC), timeframe="4h"
            ),
            "1d": bars_frame(
                higher, last_open=datetime(2026, 11, 23, 14, 30, tzinfo=UTC), timeframe="1d"
            ),
        }
    }
    return ScenarioProvider(frames)


@pytest.mark.parametrize(
    ("hourly", "higher", "expected"),
    [(downtrend(), uptrend(), BiasType.BULLISH), (uptrend(), downtrend(), BiasType.BEARISH)],
)
def test_higher_timeframes_outweigh_the_hourly(hourly, higher, expected):
    loose = {"min_bias_score": 0, "confidence_threshold": 0}

    state, _ = analysed(mixed(hourly, higher), ["MIX"], loose, {"timeframes": ["1h", "4h", "1d"]})
    aligned, _ = analysed(trends(), ["UP"])

    signal = state.bias_results["MIX"]
    assert signal.timeframe_breakdown["1h"]["direction"] != expected.value
    assert signal.timeframe_breakdown["1d"]["direction"] == expected.value
    assert signal.bias == expected
    assert signal.confidence < aligned.bias_results["UP"].confidence


def test_the_bias_score_is_the_share_of_evidence_that_agrees():
    timeframes = {"timeframes": ["1h", "4h", "1d"]}
    unanimous, _ = analysed(trends(), ["UP"])
    split, _ = analysed(mixed(downtrend(), uptrend()), ["MIX"], {"min_bias_score": 0.8}, timeframes)

    assert unanimous.bias_results["UP"].bias_score == 1.0
    score = split.bias_results["MIX"].bias_score
    assert 0.6 < score < 0.8
    assert split.symbols == []
    assert split.warnings[0].message == (
        f"MIX dropped: bullish bias score {score:.2f} is below 0.8."
    )


def test_it_names_the_timeframes_the_market_data_agent_must_add():
    with pytest.raises(InsufficientData) as raised:
        analysed(trends(), ["UP"], {"analysis_timeframes": ["15m", "1h"]}, {"timeframes": ["1h"]})

    assert str(raised.value) == (
        "Bias agent needs market data for 15m; add them to the Market Data agent's timeframes."
    )


def test_it_needs_a_market_data_agent_before_it():
    with pytest.raises(InsufficientData, match="put a Market Data agent before it"):
        build_agent("bias_agent").process(make_state(["UP"]), make_context())


def test_it_needs_trend_indicators():
    with pytest.raises(InsufficientData, match="add SMA, EMA, MACD and RSI"):
        analysed(trends(), ["UP"], data_config={"indicators": ["VWAP"]})


def test_the_llm_engine_falls_back_to_rules_with_a_warning():
    state, _ = analysed(trends(), ["UP"], {"engine": "llm", "model": "gpt-4o"})

    assert state.bias_results["UP"].engine == "rules"
    assert state.warnings[0].message == (
        "Bias Agent: no language model is configured, so the rules engine was used instead."
    )


def test_it_declares_the_timeframes_it_reads():
    assert BiasAgent.required_timeframes({"analysis_timeframes": ["15m", "1d"]}) == {"15m", "1d"}
    config, _ = validate_node_config("bias_agent", {})
    assert BiasAgent.required_timeframes(config) == {"1h", "4h", "1d"}


def test_its_schema_fills_defaults_and_bounds_thresholds():
    config, errors = validate_node_config("bias_agent", {})
    _, bad = validate_node_config(
        "bias_agent", {"confidence_threshold": 120, "analysis_timeframes": ["2h"]}
    )

    assert errors == []
    assert config == {
        "analysis_timeframes": ["1h", "4h", "1d"],
        "confidence_threshold": 60,
        "min_bias_score": 0.6,
        "engine": "rules",
        "fallback_to_rules": False,
        "model": "",
    }
    assert {error.field for error in bad} == {"confidence_threshold", "analysis_timeframes.0"}


def test_its_summary_reads_like_the_monitor_line():
    state, agent = analysed(trends(), ["UP"])

    confidence = state.bias_results["UP"].confidence
    assert agent.summarize(state) == f"UP: Bullish ({confidence:.0f}% confidence)"
