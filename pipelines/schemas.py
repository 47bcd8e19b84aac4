"""Validation of a pipeline's settings and per-mode configuration (errors name the field)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError


class PipelineSettings(BaseModel):
    """§5.1 `settings`, plus the per-run LLM budget and the replay cache."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(3, ge=0, le=10)
    retry_delay: int = Field(60, ge=0, le=3600, description="Seconds between retries.")
    # Sane maxima: a run never needs more than ten million tokens or $1,000 of agent time;
    # a larger number is a typo that would switch the cap off.
    max_tokens_per_run: int | None = Field(None, ge=1, le=10_000_000)
    max_cost_per_run: Decimal | None = Field(
        None, ge=0, le=Decimal("1000"), max_digits=10, decimal_places=4
    )
    replay_cache: bool = True
    # §11.5: when the budget runs out the pipeline pauses; this also closes its positions.
    close_positions_on_budget_exhausted: bool = False


class SimulationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slippage_pct: Decimal = Field(Decimal("0.1"), ge=0, le=5)
    commission_per_share: Decimal = Field(Decimal("0.005"), ge=0, le=1)
    simulate_partial_fills: bool = True
    simulate_rejections: bool = True
    initial_balance: Decimal = Field(Decimal("100000"), gt=0, le=Decimal("1e9"))
    seed: int | None = Field(None, description="Fixes the fills' randomness so a run replays.")
    outside_session: Literal["queue", "reject"] = Field(
        "queue",
        description="An entry while the market is closed: queued for the next open, or refused.",
    )
    extended_hours: bool = Field(
        False, description="Fill in extended hours (04:00-09:30 and 16:00-20:00 New York)."
    )


class PaperConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_account_id: str = ""
    initial_balance: Decimal = Field(Decimal("100000"), gt=0, le=Decimal("1e9"))


class ValidationModeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    initial_balance: Decimal = Field(Decimal("100000"), gt=0, le=Decimal("1e9"))


class LiveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


MODE_CONFIG_SCHEMAS: dict[str, type[BaseModel]] = {
    "SIMULATION": SimulationConfig,
    "PAPER": PaperConfig,
    "VALIDATION": ValidationModeConfig,
    "LIVE": LiveConfig,
}


def _raise_for(prefix: str, error: PydanticValidationError) -> None:
    messages: dict[str, list[str]] = {}
    for item in error.errors():
        field = ".".join(str(part) for part in (prefix, *item["loc"]))
        messages.setdefault(field, []).append(item["msg"])
    raise ValidationError(messages)


def validate_pipeline_settings(raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError({"settings": "must be an object"})
    try:
        return PipelineSettings.model_validate(raw).model_dump(mode="json")
    except PydanticValidationError as error:
        _raise_for("settings", error)


def validate_mode_config(trading_mode: str, raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError({"mode_config": "must be an object"})
    schema = MODE_CONFIG_SCHEMAS.get(trading_mode, ValidationModeConfig)
    try:
        return schema.model_validate(raw).model_dump(mode="json")
    except PydanticValidationError as error:
        _raise_for("mode_config", error)
