"""Shared pieces of the custom-strategy tests: sample code, the OpenAI fake, a reviewer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from accounts.tests.factories import UserFactory
from tests.fakes.openai import FakeOpenAI

MODEL = "gpt-4o-mini"
PRICING = {MODEL: {"input": "0.15", "output": "0.6"}}

EMA_CROSS = """\
PARAMS = {"min_volume": 1000}
INDICATORS = ["EMA_9", "EMA_21", "ATR_14"]


def strategy(bars, indicators, position, params):
    fast = indicators["ema_9"]
    slow = indicators["ema_21"]
    close = bars["5m"]["close"]
    atr = indicators["atr_14"][-1]
    if fast[-2] is None or slow[-2] is None or atr is None:
        return {"signal": "HOLD", "reason": "warming up"}
    if bars["5m"]["volume"][-1] < params["min_volume"]:
        return {"signal": "HOLD", "reason": "volume too low"}
    if fast[-2] <= slow[-2] and fast[-1] > slow[-1]:
        return {"signal": "BUY", "stop_loss": close[-1] - 1.5 * atr, "reason": "EMA cross up"}
    if fast[-2] >= slow[-2] and fast[-1] < slow[-1]:
        return {"signal": "SELL", "stop_loss": close[-1] + 1.5 * atr, "reason": "EMA cross down"}
    return {"signal": "HOLD", "reason": "no cross"}
"""

# Buys whenever the 5-bar average is known: a signal the end-to-end test can count on.
ALWAYS_BUY = """\
PARAMS = {"stop_pct": 1.0}
INDICATORS = ["SMA_5"]


def strategy(bars, indicators, position, params):
    close = bars["5m"]["close"][-1]
    if indicators["sma_5"][-1] is None:
        return "HOLD"
    return {
        "signal": "BUY",
        "stop_loss": close * (1 - params["stop_pct"] / 100),
        "targets": [close * (1 + 2 * params["stop_pct"] / 100)],
        "reason": "always in, v1",
    }
"""

APPROVE = {"approved": True, "issues": [], "risk_level": "low", "explanation": "Reads inputs only."}


@pytest.fixture
def openai_fake(settings):
    with FakeOpenAI() as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_API_KEY = fake.api_key
        settings.LLM_DEFAULT_MODEL = MODEL
        settings.LLM_PRICING = PRICING
        settings.LLM_RETRY_BACKOFF_SECONDS = 0
        settings.LLM_MAX_RETRIES = 0
        yield fake


@pytest.fixture
def no_llm(settings):
    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_API_KEY = ""


@pytest.fixture
def reviewer(db):
    user = UserFactory(email="reviewer@example.com", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="review_customstrategy"))
    return user


@pytest.fixture
def plain_staff(db):
    return UserFactory(email="staff@example.com", is_staff=True)
