"""The built-in agents as the registry and the pipeline builder see them: metadata and schemas."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.registry import agent_types, validate_node_config

EXPECTED = {
    "time_trigger": ("trigger", Decimal("0")),
    "technical_trigger": ("trigger", Decimal("0.03")),
    "price_trigger": ("trigger", Decimal("0.02")),
    "news_trigger": ("trigger", Decimal("0.05")),
    "market_data_agent": ("data", Decimal("0")),
    "bias_agent": ("analysis", Decimal("0.08")),
    "strategy_agent": ("analysis", Decimal("0.10")),
    "risk_manager_agent": ("risk", Decimal("0.05")),
    "trade_manager_agent": ("execution", Decimal("0")),
    "reporting_agent": ("reporting", Decimal("0")),
    "stock_picker_agent": ("data", Decimal("0")),
}
# Properties whose presence is the choice (a level, or which side of a comparison): no default.
WITHOUT_DEFAULT = {"level", "value", "compare_to", "signal", "indicator", "conditions"}


def test_every_built_in_agent_is_registered_with_its_price_and_category():
    registered = agent_types()

    for agent_type, (category, rate) in EXPECTED.items():
        metadata = registered[agent_type].metadata
        assert (metadata.category, metadata.pricing_rate) == (category, rate), agent_type
        assert metadata.is_free == (rate == 0), agent_type
    assert registered["pipeline_manager_agent"].metadata.is_system_agent is True


def _properties(schema: dict, path: str = ""):
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}{name}", name, prop, name in schema.get("required", [])
        if prop.get("type") == "object":
            yield from _properties(prop, f"{path}{name}.")
        if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            yield from _properties(prop["items"], f"{path}{name}[].")


@pytest.mark.parametrize("agent_type", sorted(EXPECTED))
def test_its_schema_is_ready_for_the_builder(agent_type):
    schema = agent_types()[agent_type].metadata.config_schema

    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert isinstance(schema["required"], list)
    for path, name, prop, required in _properties(schema):
        assert prop.get("title"), f"{path} has no title"
        assert prop.get("description"), f"{path} has no description"
        if not required and name not in WITHOUT_DEFAULT:
            assert "default" in prop, f"{path} has no default"


# A technical trigger needs conditions and a price trigger's default "above" needs a level.
@pytest.mark.parametrize(
    "agent_type", sorted(set(EXPECTED) - {"technical_trigger", "price_trigger"})
)
def test_an_empty_config_is_valid(agent_type):
    _, errors = validate_node_config(agent_type, {})

    assert errors == []


@pytest.mark.parametrize("agent_type", sorted(EXPECTED))
def test_unknown_settings_are_refused(agent_type):
    _, errors = validate_node_config(agent_type, {"colour": "blue"})

    assert "colour" in [error.field for error in errors]
