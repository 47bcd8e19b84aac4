"""LLM settings: the one place that reads, checks and types them; their defaults live in
config/settings.py alone."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from agents.errors import AgentError
from config.core.conf import (
    float_setting,
    int_setting,
    names_setting,
    setting,
    text_setting,
)

# Roles whose model can be chosen per deployment (LLM_<ROLE>_MODEL); "" = LLM_DEFAULT_MODEL.
ROLES = ("bias", "strategy", "reporting", "news")
RESPONSE_FORMATS = ("json_object", "json_schema", "none")

# USD per 1,000 tokens (input, output) for the models this release knows — the same shape
# billing's cost estimator reads. It is the catalogue LLM_PRICING is laid over (an operator's
# table adds and overrides models), not a setting's default. A model missing from both is
# refused (it would be billed $0 and slip past every budget) unless the operator lists it in
# LLM_FREE_MODELS (local servers: Ollama, vLLM) or prices "default".
BUILTIN_PRICES: dict[str, dict[str, str]] = {
    "gpt-4o": {"input": "0.0025", "output": "0.01"},
    "gpt-4o-mini": {"input": "0.00015", "output": "0.0006"},
    "gpt-4.1": {"input": "0.002", "output": "0.008"},
    "gpt-4.1-mini": {"input": "0.0004", "output": "0.0016"},
    "gpt-4.1-nano": {"input": "0.0001", "output": "0.0004"},
    "o4-mini": {"input": "0.0011", "output": "0.0044"},
    "gpt-4": {"input": "0.03", "output": "0.06"},
    "gpt-3.5-turbo": {"input": "0.0005", "output": "0.0015"},
}


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


def _pricing_setting() -> dict[str, Any]:
    table = setting("LLM_PRICING") or {}
    if not isinstance(table, dict):
        raise ImproperlyConfigured(f"LLM_PRICING must be a JSON object, got {table!r}")
    return table


def _pricing() -> dict[str, Price]:
    prices = {}
    for model, price in {**BUILTIN_PRICES, **_pricing_setting()}.items():
        try:
            prices[model] = Price(Decimal(str(price["input"])), Decimal(str(price["output"])))
        except (TypeError, KeyError, ArithmeticError):
            raise ImproperlyConfigured(
                f"LLM_PRICING[{model!r}] needs an input and an output price, got {price!r}"
            ) from None
    return prices


def _default_model() -> str:
    model = text_setting("LLM_DEFAULT_MODEL")
    if not model:
        raise ImproperlyConfigured("LLM_DEFAULT_MODEL must name a model")
    return model


def _role_models() -> dict[str, str]:
    return {role: text_setting(f"LLM_{role.upper()}_MODEL") for role in ROLES}


def _response_format() -> str:
    response_format = text_setting("LLM_RESPONSE_FORMAT")
    if response_format not in RESPONSE_FORMATS:
        raise ImproperlyConfigured(
            f"LLM_RESPONSE_FORMAT={response_format!r} must be one of {', '.join(RESPONSE_FORMATS)}"
        )
    return response_format


def llm_settings() -> LLMSettings:
    """The current LLM settings, checked and typed (read on every call, so tests can override
    them); a bad or missing one is ImproperlyConfigured naming it."""
    return LLMSettings(
        api_key=text_setting("OPENAI_API_KEY"),
        base_url=text_setting("OPENAI_BASE_URL").rstrip("/"),
        default_model=_default_model(),
        role_models={role: model for role, model in _role_models().items() if model},
        models=tuple(model_choices()),
        pricing=_pricing(),
        free_models=frozenset(names_setting("LLM_FREE_MODELS")),
        timeout=float_setting("LLM_REQUEST_TIMEOUT", minimum=0),
        max_retries=int_setting("LLM_MAX_RETRIES", minimum=0),
        retry_backoff=float_setting("LLM_RETRY_BACKOFF_SECONDS", minimum=0),
        max_completion_tokens=int_setting("LLM_MAX_COMPLETION_TOKENS", minimum=16),
        temperature=float_setting("LLM_TEMPERATURE", minimum=0),
        response_format=_response_format(),
    )


def llm_available(ctx: Any) -> bool:
    """Whether an agent's LLM engine can run in `ctx` (an AgentContext): a model server is
    configured, or a client was handed to the context."""
    return ctx.llm is not None or llm_settings().configured


def model_choices() -> list[str]:
    """Models an agent's config may name: LLM_MODELS, or else the default model, the role
    models and the priced models."""
    listed = names_setting("LLM_MODELS")
    if not listed:
        listed = [
            _default_model(),
            *_role_models().values(),
            *BUILTIN_PRICES,
            *_pricing_setting(),
        ]
    return [name for name in dict.fromkeys(listed) if name and name != "default"]
