"""LLM settings: the one place that reads them (with their defaults) from Django settings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from agents.errors import AgentError

# Roles whose model can be chosen per deployment (LLM_<ROLE>_MODEL); "" = LLM_DEFAULT_MODEL.
ROLES = ("bias", "strategy", "reporting", "news")
RESPONSE_FORMATS = ("json_object", "json_schema", "none")

# USD per 1,000 tokens (input, output) — the same shape billing's cost estimator reads. A model
# missing from the table is refused (it would be billed $0 and slip past every budget) unless
# the operator lists it in LLM_FREE_MODELS (local servers: Ollama, vLLM) or prices "default".
DEFAULT_PRICING: dict[str, dict[str, str]] = {
    "gpt-4o": {"input": "0.0025", "output": "0.01"},
    "gpt-4o-mini": {"input": "0.00015", "output": "0.0006"},
    "gpt-4.1": {"input": "0.002", "output": "0.008"},
    "gpt-4.1-mini": {"input": "0.0004", "output": "0.0016"},
    "gpt-4.1-nano": {"input": "0.0001", "output": "0.0004"},
    "o4-mini": {"input": "0.0011", "output": "0.0044"},
    "gpt-4": {"input": "0.03", "output": "0.06"},
    "gpt-3.5-turbo": {"input": "0.0005", "output": "0.0015"},
}

DEFAULTS: dict[str, Any] = {
    "OPENAI_API_KEY": "",
    "OPENAI_BASE_URL": "",
    "LLM_DEFAULT_MODEL": "gpt-4o-mini",
    "LLM_BIAS_MODEL": "",
    "LLM_STRATEGY_MODEL": "",
    "LLM_REPORTING_MODEL": "",
    "LLM_NEWS_MODEL": "",
    "LLM_MODELS": [],
    "LLM_PRICING": {},
    "LLM_FREE_MODELS": [],
    "LLM_REQUEST_TIMEOUT": 60.0,
    "LLM_MAX_RETRIES": 2,
    "LLM_RETRY_BACKOFF_SECONDS": 1.0,
    "LLM_MAX_COMPLETION_TOKENS": 1024,
    "LLM_TEMPERATURE": 0.2,
    "LLM_RESPONSE_FORMAT": "json_object",
}


def _setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


class UnpricedModel(AgentError):
    """A model without a price: calling it would spend money no budget sees."""


@dataclass(frozen=True)
class Price:
    """USD per 1,000 prompt and completion tokens."""

    input: Decimal
    output: Decimal


@dataclass(frozen=True)
class LLMSettings:
    api_key: str
    base_url: str
    default_model: str
    role_models: dict[str, str]
    models: tuple[str, ...]
    pricing: dict[str, Price]
    free_models: frozenset[str]
    timeout: float
    max_retries: int
    retry_backoff: float
    max_completion_tokens: int
    temperature: float
    response_format: str

    @property
    def configured(self) -> bool:
        # A local server (Ollama, llama.cpp) needs no key, so a base URL alone switches it on.
        return bool(self.api_key or self.base_url)

    def model_for(self, role: str, chosen: str = "") -> str:
        """The model a role uses: the agent's choice, else the role's default, else the default."""
        return chosen or self.role_models.get(role) or self.default_model

    def price(self, model: str) -> Price:
        """The model's price; UnpricedModel when it has none (fails closed)."""
        price = self.pricing.get(model)
        if price is not None:
            return price
        if model in self.free_models:
            return Price(Decimal(0), Decimal(0))
        if "default" in self.pricing:
            return self.pricing["default"]
        raise UnpricedModel(
            f"No price configured for model {model!r}: add it to LLM_PRICING, or to "
            "LLM_FREE_MODELS if it runs on your own server."
        )


def _pricing() -> dict[str, Price]:
    table = {**DEFAULT_PRICING, **(_setting("LLM_PRICING") or {})}
    return {
        model: Price(Decimal(str(prices["input"])), Decimal(str(prices["output"])))
        for model, prices in table.items()
    }


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [str(name).strip() for name in value or () if str(name).strip()]


def llm_settings() -> LLMSettings:
    """The current LLM settings (read on every call, so tests can override them)."""
    default_model = _setting("LLM_DEFAULT_MODEL") or DEFAULTS["LLM_DEFAULT_MODEL"]
    role_models = {role: _setting(f"LLM_{role.upper()}_MODEL") or "" for role in ROLES}
    response_format = _setting("LLM_RESPONSE_FORMAT") or "json_object"
    if response_format not in RESPONSE_FORMATS:
        response_format = "json_object"
    return LLMSettings(
        api_key=_setting("OPENAI_API_KEY") or "",
        base_url=(_setting("OPENAI_BASE_URL") or "").rstrip("/"),
        default_model=default_model,
        role_models={role: model for role, model in role_models.items() if model},
        models=tuple(model_choices()),
        pricing=_pricing(),
        free_models=frozenset(_names(_setting("LLM_FREE_MODELS"))),
        timeout=float(_setting("LLM_REQUEST_TIMEOUT")),
        max_retries=max(0, int(_setting("LLM_MAX_RETRIES"))),
        retry_backoff=max(0.0, float(_setting("LLM_RETRY_BACKOFF_SECONDS"))),
        max_completion_tokens=max(16, int(_setting("LLM_MAX_COMPLETION_TOKENS"))),
        temperature=float(_setting("LLM_TEMPERATURE")),
        response_format=response_format,
    )


def llm_available(ctx: Any) -> bool:
    """Whether an agent's LLM engine can run in `ctx` (an AgentContext): a model server is
    configured, or a client was handed to the context."""
    return ctx.llm is not None or llm_settings().configured


def model_choices() -> list[str]:
    """Models an agent's config may name: LLM_MODELS, or else the default model, the role
    models and the priced models."""
    listed = _names(_setting("LLM_MODELS"))
    if not listed:
        listed = [
            _setting("LLM_DEFAULT_MODEL") or DEFAULTS["LLM_DEFAULT_MODEL"],
            *(_setting(f"LLM_{role.upper()}_MODEL") or "" for role in ROLES),
            *DEFAULT_PRICING,
            *(_setting("LLM_PRICING") or {}),
        ]
    return [name for name in dict.fromkeys(listed) if name and name != "default"]
