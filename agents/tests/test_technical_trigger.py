"""Technical trigger: symbols whose indicator conditions hold go on; none holding means waiting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.errors import AgentError, TriggerNotMet
from agents.registry import validate_node_config
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state
from agents.tests.providers import (
    downtrend,
    flat,
    golden_cross,
    macd_bullish_crossover,
    scenario_provider,
    uptrend,
)


def context(shapes, now=SESSION_NOW):
    return make_context(now=now, market_data=scenario_provider(shapes, now=now))


def evaluate(config, shapes, now=SESSION_NOW):
    state = make_state(list(shapes))
    return build_agent("technical_trigger", config).process(state, context(shapes, now))


def test_it_keeps_the_symbols_that_meet_the_condition_and_drops_the_rest():
    config = {"conditions": [{"indicator": "RSI", "operator": ">", "value": 70}]}

    state = evaluate(config, {"UP": uptrend(), "DOWN": downtrend()})

    assert state.symbols == ["UP"]
    assert state.trigger.met is True
    assert state.trigger.details["kept"] == ["UP"]
    assert state.trigger.details["dropped"] == ["DOWN"]
    up = state.trigger.details["symbols"]["UP"]["conditions"][0]
    assert up["met"] is True
    assert up["values"]["rsi_14"] == pytest.approx(88.3, abs=0.1)
    down = state.trigger.details["symbols"]["DOWN"]["conditions"][0]
    assert down["values"]["rsi_14"] == pytest.approx(20.4, abs=0.1)
    assert state.trigger.condition == "rsi_14 > 70 (5m)"


def test_and_needs_every_condition_but_or_needs_one():
    conditions = [
        {"indicator": "close", "operator": ">", "compare_to": "SMA_200"},
        {"indicator": "rsi_14", "operator": "<", "value": 30},
    ]
    shapes = {"UP": uptrend(), "DOWN": downtrend()}

    with pytest.raises(TriggerNotMet):
        evaluate({"conditions": conditions, "logic": "AND"}, shapes)
    either = evaluate({"conditions": conditions, "logic": "OR"}, shapes)

    assert either.symbols == ["UP", "DOWN"]


def test_it_understands_the_macd_crossover_shorthand():
    config = {"conditions": [{"indicator": "MACD", "signal": "bullish_crossover"}]}

    state = evaluate(config, {"TURN": macd_bullish_crossover(), "UP": uptrend()})

    assert state.symbols == ["TURN"]
    values = state.trigger.details["symbols"]["TURN"]["conditions"][0]["values"]
    assert values["previous_macd"] <= values["previous_macd_signal"]
    assert values["macd"] > values["macd_signal"]
    assert state.trigger.condition == "MACD bullish crossover (5m)"


def test_it_sees_a_golden_cross_on_the_daily_chart():
    config = {
        "conditions": [
            {
                "indicator": "sma_50",
                "operator": "crosses_above",
                "compare_to": "sma_200",
                "timeframe": "1d",
            }
        ]
    }

    state = evaluate(config, {"GOLD": golden_cross(), "UP": uptrend()})

    assert state.symbols == ["GOLD"]


def test_it_waits_for_the_next_five_minute_bar_when_nothing_holds():
    now = datetime(2026, 11, 24, 15, 2, tzinfo=UTC)
    state = make_state(["FLAT"])
    config = {"conditions": [{"indicator": "rsi", "operator": ">", "value": 70}]}

    with pytest.raises(TriggerNotMet) as raised:
        build_agent("technical_trigger", config).process(state, context({"FLAT": flat()}, now))

    assert raised.value.next_check_at == datetime(2026, 11, 24, 15, 5, tzinfo=UTC)
    assert raised.value.details["symbols"]["FLAT"]["met"] is False
    assert "FLAT does not meet rsi_14 > 70 (5m)" in raised.value.reason
    assert state.symbols == ["FLAT"]
    assert state.trigger is None


@pytest.mark.parametrize(
    ("now", "timeframe", "expected"),
    [
        # The last hour bar of an early-close day ends at the 13:00 close.
        (
            datetime(2026, 11, 27, 17, 40, tzinfo=UTC),
            "1h",
            datetime(2026, 11, 27, 18, 0, tzinfo=UTC),
        ),
        # After Wednesday's close the next bar closes five minutes into Friday (Thanksgiving).
        (
            datetime(2026, 11, 25, 22, 0, tzinfo=UTC),
            "5m",
            datetime(2026, 11, 27, 14, 35, tzinfo=UTC),
        ),
        # A daily condition is looked at again when the session closes.
        (
            datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
            "1d",
            datetime(2026, 11, 27, 18, 0, tzinfo=UTC),
        ),
    ],
)
def test_its_next_check_follows_the_exchange_calendar(now, timeframe, expected):
    config = {
        "conditions": [{"indicator": "rsi", "operator": ">", "value": 99, "timeframe": timeframe}]
    }

    with pytest.raises(TriggerNotMet) as raised:
        evaluate(config, {"FLAT": flat()}, now)

    assert raised.value.next_check_at == expected


def test_a_check_interval_overrides_the_bar_pace():
    config = {
        "conditions": [{"indicator": "rsi", "operator": ">", "value": 70}],
        "check_interval_seconds": 90,
    }

    with pytest.raises(TriggerNotMet) as raised:
        evaluate(config, {"FLAT": flat()})

    assert raised.value.next_check_at == datetime(2026, 11, 24, 15, 1, 30, tzinfo=UTC)


def test_a_symbol_without_data_is_dropped_with_an_error():
    state = make_state(["UP", "NOPE"])
    config = {"conditions": [{"indicator": "rsi", "operator": ">", "value": 70}]}

    build_agent("technical_trigger", config).process(state, context({"UP": uptrend()}))

    assert state.symbols == ["UP"]
    assert [(e.symbol, "unknown symbol" in e.message) for e in state.errors] == [("NOPE", True)]


def test_it_fails_when_no_symbol_has_data():
    state = make_state(["NOPE"])
    config = {"conditions": [{"indicator": "rsi", "operator": ">", "value": 70}]}

    with pytest.raises(AgentError, match="no bars for any symbol"):
        build_agent("technical_trigger", config).process(state, context({"UP": uptrend()}))


def test_it_names_an_unknown_indicator():
    config = {"conditions": [{"indicator": "STOCH", "operator": ">", "value": 80}]}

    _, errors = validate_node_config("technical_trigger", config)
    assert [e.field for e in errors] == ["conditions.0"]
    assert "Unknown indicator 'STOCH'" in errors[0].message


def test_its_schema_wants_a_value_an_indicator_or_a_signal():
    _, missing = validate_node_config(
        "technical_trigger", {"conditions": [{"indicator": "RSI", "operator": ">"}]}
    )
    _, bad_operator = validate_node_config(
        "technical_trigger", {"conditions": [{"indicator": "RSI", "operator": "=", "value": 1}]}
    )
    config, fine = validate_node_config(
        "technical_trigger", {"conditions": [{"indicator": "RSI", "value": 70}]}
    )

    assert [error.field for error in missing] == ["conditions.0"]
    assert [error.field for error in bad_operator] == ["conditions.0.operator"]
    assert fine == []
    assert config["conditions"][0] == {
        "indicator": "RSI",
        "value": 70,
        "operator": ">",
        "timeframe": "5m",
    }
    assert config["logic"] == "AND"
    assert config["check_interval_seconds"] == 0
