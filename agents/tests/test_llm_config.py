"""agents.llm.config reads each LLM setting from config/settings.py (its one default), checked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from agents.llm import config
from agents.llm.config import llm_settings, model_choices

SETTINGS_READ = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LLM_DEFAULT_MODEL",
    "LLM_BIAS_MODEL",
    "LLM_MODELS",
    "LLM_PRICING",
    "LLM_FREE_MODELS",
    "LLM_REQUEST_TIMEOUT",
    "LLM_MAX_RETRIES",
    "LLM_RETRY_BACKOFF_SECONDS",
    "LLM_MAX_COMPLETION_TOKENS",
    "LLM_TEMPERATURE",
    "LLM_RESPONSE_FORMAT",
]


def test_it_has_no_second_table_of_defaults():
    assert not hasattr(config, "DEFAULTS")


@pytest.mark.parametrize("name", SETTINGS_READ)
def test_it_names_a_setting_the_settings_module_lacks(settings, name):
    delattr(settings, name)
    with pytest.raises(ImproperlyConfigured, match=f"{name} is not set in config/settings.py"):
        llm_settings()


def test_it_follows_the_settings_at_call_time(settings):
    settings.LLM_DEFAULT_MODEL = "gpt-4.1"
    settings.LLM_STRATEGY_MODEL = "o4-mini"
    settings.LLM_MAX_RETRIES = "3"
    settings.LLM_TEMPERATURE = "0.5"
    current = llm_settings()
    assert current.default_model == "gpt-4.1"
    assert current.model_for("strategy") == "o4-mini"
    assert current.model_for("bias") == "gpt-4.1"
    assert (current.max_retries, current.temperature) == (3, 0.5)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LLM_DEFAULT_MODEL", "", "LLM_DEFAULT_MODEL must name a model"),
        ("LLM_RESPONSE_FORMAT", "xml", "LLM_RESPONSE_FORMAT='xml' must be one of"),
        ("LLM_MAX_RETRIES", -1, "LLM_MAX_RETRIES=-1 must be at least 0"),
        ("LLM_MAX_COMPLETION_TOKENS", "many", "LLM_MAX_COMPLETION_TOKENS must be an integer"),
        ("LLM_TEMPERATURE", "warm", "LLM_TEMPERATURE must be a number"),
        ("LLM_PRICING", ["gpt-4o"], "LLM_PRICING must be a JSON object"),
        ("LLM_PRICING", {"mine": {"input": "1"}}, "LLM_PRICING\\['mine'\\] needs an input and"),
    ],
)
def test_it_names_a_bad_value_instead_of_guessing(settings, name, value, message):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        llm_settings()


def test_it_lays_the_operators_prices_over_the_built_in_ones(settings):
    settings.LLM_PRICING = {
        "gpt-4o": {"input": "1", "output": "2"},
        "mine": {"input": "0.1", "output": "0.2"},
    }
    settings.LLM_MODELS = []
    prices = llm_settings().pricing
    assert prices["gpt-4o"] == config.Price(Decimal("1"), Decimal("2"))
    assert prices["gpt-4.1"] == config.Price(Decimal("0.002"), Decimal("0.008"))
    assert {"gpt-4o", "gpt-4.1", "mine"} <= set(model_choices())
