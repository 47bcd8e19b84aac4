"""Conditions as the agents take them: the builder's form of one condition row, and parsing a
row into a `trading.conditions.Condition` with a step's error when it cannot be judged.

The rule that judges a condition is the trading app's (`trading.conditions`), so a trigger, the
stock picker, a position's exit conditions and a backtest judge it the same way.
"""

from __future__ import annotations

from typing import Any

from agents.builtin.common import timeframe_property
from agents.errors import AgentError
from trading.conditions import INDICATOR_HELP, SIGNALS, Condition, ConditionError
from trading.conditions import parse_condition as _parse_condition


def parse_condition(raw: dict[str, Any], *, default_timeframe: str, position: int) -> Condition:
    """A Condition from its config row; AgentError (the step's error) when it cannot be judged."""
    try:
        return _parse_condition(raw, default_timeframe=default_timeframe, position=position)
    except ConditionError as error:
        raise AgentError(str(error)) from None


def condition_schema(*, operators: tuple[str, ...], with_timeframe: bool, shorthand: bool) -> dict:
    """The JSON Schema of one condition row, for the builder's form.

    `value`, `compare_to` and `signal` have no default on purpose: which one is present says what
    kind of condition the row is (`anyOf` requires one of them).
    """
    properties: dict[str, Any] = {
        "indicator": {
            "type": "string",
            "title": "Indicator",
            "description": f"One of {INDICATOR_HELP}.",
            "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
            "maxLength": 40,
        },
        "operator": {
            "type": "string",
            "title": "Operator",
            "description": "How the indicator compares with the value or the other indicator.",
            "enum": list(operators),
            "default": ">",
        },
        "value": {
            "type": "number",
            "title": "Value",
            "description": "The number to compare with (or use 'Compare to').",
        },
    }
    if with_timeframe:
        properties["compare_to"] = {
            "type": "string",
            "title": "Compare to",
            "description": "Another indicator to compare with, e.g. sma_50.",
            "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
            "maxLength": 40,
        }
        properties["timeframe"] = timeframe_property(
            "Timeframe", "Bars the condition is evaluated on.", "5m"
        )
    if shorthand:
        properties["signal"] = {
            "type": "string",
            "title": "Signal",
            "description": "Shorthand for MACD: a crossover of the MACD and its signal line.",
            "enum": list(SIGNALS),
        }
    alternatives = [{"required": ["value"]}]
    if with_timeframe:
        alternatives.append({"required": ["compare_to"]})
    if shorthand:
        alternatives.append({"required": ["signal"]})
    return {
        "type": "object",
        "title": "Condition",
        "description": "indicator operator value, or indicator operator another indicator.",
        "properties": properties,
        "required": ["indicator"],
        "anyOf": alternatives,
        "additionalProperties": False,
    }
