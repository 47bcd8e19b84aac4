"""Price trigger: levels, crossings and percentage moves keep symbols; nothing qualifying waits."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from agents.errors import AgentError, TriggerNotMet
from agents.registry import validate_node_config
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state
from agents.tests.providers import ScenarioProvider, bars_frame
from trading.marketdata.base import Quote

LAST_SESSION_NOON = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # Monday, the session before


def quote(symbol: str, price: float) -> Quote:
    return Quote(symbol, price, price - 0.01, price + 0.01, 10_000, SESSION_NOW)


def provider(prices: dict[str, float], *, daily_close: float = 100.0, five_minute=None):
    frames = {}
    for symbol in prices:
        frames[symbol] = {
            "1d": bars_frame(
                np.linspace(90, daily_close, 30), last_open=LAST_SESSION_NOON, timeframe="1d"
            ),
            "5m": five_minute
            if five_minute is not None
            else bars_frame(
                np.full(40, prices[symbol]),
                last_open=datetime(2026, 11, 24, 14, 50, tzinfo=UTC),
                timeframe="5m",
            ),
        }
    return ScenarioProvider(frames, quotes={s: quote(s, p) for s, p in prices.items()})


def trigger(config, prices, **provider_options):
    state = make_state(list(prices))
    context = make_context(market_data=provider(prices, **provider_options))
    return build_agent("price_trigger", config).process(state, context)


def test_it_keeps_symbols_above_the_level():
    state = trigger({"condition": "above", "level": 150}, {"AAPL": 151.0, "MSFT": 149.0})

    assert state.symbols == ["AAPL"]
    assert state.trigger.details["symbols"]["AAPL"] == {"met": True, "price": 151.0, "level": 150}
    assert state.trigger.details["symbols"]["MSFT"]["met"] is False
    assert state.trigger.condition == "price above 150"


def test_per_symbol_levels_override_the_common_one():
    config = {"condition": "below", "level": 100, "levels": {"MSFT": 400}}

    state = trigger(config, {"AAPL": 151.0, "MSFT": 390.0})

    assert state.symbols == ["MSFT"]


def test_it_sees_a_crossing_between_the_last_two_bars():
    closes = np.array([98.0] * 10 + [99.5, 100.6])
    five_minute = bars_frame(
        closes, last_open=datetime(2026, 11, 24, 14, 50, tzinfo=UTC), timeframe="5m"
    )

    crossed = trigger(
        {"condition": "crosses_above", "level": 100}, {"AAPL": 100.6}, five_minute=five_minute
    )
    with pytest.raises(TriggerNotMet) as waiting:
        trigger(
            {"condition": "crosses_above", "level": 99}, {"AAPL": 100.6}, five_minute=five_minute
        )

    assert crossed.trigger.details["symbols"]["AAPL"] == {
        "met": True,
        "level": 100,
        "previous_close": 99.5,
        "last_close": 100.6,
    }
    assert waiting.value.next_check_at == datetime(2026, 11, 24, 15, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("direction", "price", "met"),
    [("up", 103.0, True), ("down", 103.0, False), ("either", 97.0, True), ("either", 101.0, False)],
)
def test_it_measures_the_move_from_the_previous_close(direction, price, met):
    config = {"condition": "pct_move", "pct": 2.5, "direction": direction}

    if not met:
        with pytest.raises(TriggerNotMet):
            trigger(config, {"AAPL": price})
        return
    state = trigger(config, {"AAPL": price})

    evaluation = state.trigger.details["symbols"]["AAPL"]
    assert evaluation["reference_price"] == 100.0
    assert evaluation["change_pct"] == pytest.approx((price - 100) / 100 * 100)


def test_it_measures_the_move_from_the_session_open():
    # 5m bars from 14:05 to 14:50 UTC; the first of this session opens at 14:30 at 100.
    closes = np.array([96.0, 97, 98, 99, 100, 101, 101, 100, 99, 98])
    five_minute = bars_frame(
        closes, last_open=datetime(2026, 11, 24, 14, 50, tzinfo=UTC), timeframe="5m"
    )
    config = {"condition": "pct_move", "pct": 2, "direction": "down", "reference": "session_open"}

    state = trigger(config, {"AAPL": 97.5}, five_minute=five_minute)

    evaluation = state.trigger.details["symbols"]["AAPL"]
    assert evaluation["reference_price"] == 100.0
    assert evaluation["change_pct"] == pytest.approx(-2.5)


def test_it_waits_and_leaves_the_state_alone_when_no_symbol_qualifies():
    state = make_state(["AAPL"])
    context = make_context(market_data=provider({"AAPL": 140.0}))

    with pytest.raises(TriggerNotMet) as raised:
        build_agent("price_trigger", {"condition": "above", "level": 150}).process(state, context)

    assert raised.value.details["symbols"]["AAPL"]["met"] is False
    assert state.symbols == ["AAPL"]
    assert state.trigger is None


def test_it_asks_for_a_level_for_a_symbol_without_one():
    with pytest.raises(AgentError, match=r"set a price level \(or a level for AAPL\)"):
        trigger({"condition": "above", "levels": {"MSFT": 400}}, {"AAPL": 150.0})


@pytest.mark.parametrize("condition", ["above", "below", "crosses_above", "crosses_below"])
def test_its_schema_refuses_a_level_condition_without_a_level(condition):
    _, errors = validate_node_config("price_trigger", {"condition": condition})
    assert [(e.field, e.message) for e in errors] == [
        ("level", "is required for the above/below/crosses conditions (or set levels per symbol)")
    ]
    _, per_symbol = validate_node_config(
        "price_trigger", {"condition": condition, "levels": {"AAPL": 1}}
    )
    assert per_symbol == []
    _, moving = validate_node_config("price_trigger", {"condition": "pct_move"})
    assert moving == []


def test_its_schema_fills_defaults_and_rejects_a_negative_level():
    config, errors = validate_node_config("price_trigger", {"level": 150})
    _, bad = validate_node_config("price_trigger", {"condition": "above", "level": -5})

    assert errors == []
    assert config == {
        "condition": "above",
        "level": 150,
        "levels": {},
        "pct": 2.0,
        "direction": "either",
        "reference": "previous_close",
        "timeframe": "5m",
        "check_interval_seconds": 0,
    }
    assert [error.field for error in bad] == ["level"]
