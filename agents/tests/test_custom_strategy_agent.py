"""The custom strategy agent's pieces: params from the node, and a signal the risk manager sizes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.custom.agent import CustomStrategyAgent, fill_params, params_schema
from agents.custom.sandbox import StrategyOutput
from agents.errors import AgentError
from agents.registry import create_agent
from agents.state import TradeSide
from trading.clock import ManualClock


class _Strategy:
    name = "EMA"
    version = 3


class _Context:
    clock = ManualClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))


def agent() -> CustomStrategyAgent:
    return create_agent("custom", "custom_strategy", {"strategy": "x", "default_stop_pct": 2.0})


def test_it_fills_declared_params_with_the_nodes_values_typed_by_their_defaults():
    declared = {"fast": 9, "ratio": 1.5, "long_only": True, "label": "a"}

    filled = fill_params(declared, {"fast": "12", "ratio": 2, "long_only": False})

    assert filled == {"fast": 12, "ratio": 2.0, "long_only": False, "label": "a"}
    assert params_schema(declared)["properties"]["fast"] == {
        "type": "integer",
        "title": "Fast",
        "default": 9,
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [({"slow": 3}, "no parameter 'slow'"), ({"fast": "x"}, "not a int"), ({"fast": True}, "int")],
)
def test_it_refuses_params_the_strategy_does_not_declare_or_of_the_wrong_type(given, message):
    with pytest.raises(AgentError) as refused:
        fill_params({"fast": 9}, given)
    assert message in str(refused.value)


def test_a_buy_without_levels_gets_the_default_stop_and_r_multiple_targets():
    signal = agent()._signal("AAPL", StrategyOutput(signal="BUY"), 100.0, "5m", _Strategy, _Context)

    assert signal.action == TradeSide.BUY
    assert (signal.entry_price, signal.stop_loss) == (100.0, 98.0)
    assert (signal.target_1, signal.target_2) == (103.0, 106.0)
    assert signal.engine == "custom"
    assert signal.technical_factors == ["custom:EMA v3"]


def test_a_sell_keeps_the_strategys_levels_and_drops_a_stop_on_the_wrong_side():
    output = StrategyOutput(signal="SELL", stop_loss=99.0, targets=[95.0, 90.0], reason="down")
    signal = agent()._signal("AAPL", output, 100.0, "5m", _Strategy, _Context)

    assert signal.action == TradeSide.SELL
    assert signal.stop_loss == 102.0  # 99 is below a short's entry: the default stop instead
    assert (signal.target_1, signal.target_2) == (95.0, 90.0)
    assert signal.reasoning == "down"


def test_hold_is_no_trade():
    assert (
        agent()._signal("AAPL", StrategyOutput(signal="hold"), 100.0, "5m", _Strategy, _Context)
        is None
    )
