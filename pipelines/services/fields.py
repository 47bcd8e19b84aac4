"""A pipeline's fields as the trader gives them, checked: name (unique per owner), ticker
symbols, timeframe, run mode and its schedule, settings, mode config and daily budget."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import User
from pipelines.models import Pipeline, RunMode
from pipelines.schedules import schedule_validate
from pipelines.schemas import validate_mode_config, validate_pipeline_settings

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
MAX_SYMBOLS = 100
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")


def normalize_symbols(symbols: Any, *, field: str = "symbols") -> list[str]:
    if symbols is None:
        return []
    if not isinstance(symbols, list):
        raise ValidationError({field: "A list of ticker symbols, e.g. ['AAPL', 'MSFT']."})
    cleaned: list[str] = []
    for raw in symbols:
        symbol = str(raw).strip().upper()
        if not SYMBOL_PATTERN.match(symbol):
            raise ValidationError({field: f"{raw!r} is not a ticker symbol."})
        if symbol not in cleaned:
            cleaned.append(symbol)
    if len(cleaned) > MAX_SYMBOLS:
        raise ValidationError({field: f"At most {MAX_SYMBOLS} symbols."})
    return cleaned


def clean_fields(fields: dict[str, Any], *, trading_mode: str) -> dict[str, Any]:
    cleaned = dict(fields)
    if "name" in cleaned:
        name = str(cleaned["name"] or "").strip()
        if not name:
            raise ValidationError({"name": "Give the pipeline a name."})
        cleaned["name"] = name[:255]
    if "symbols" in cleaned:
        cleaned["symbols"] = normalize_symbols(cleaned["symbols"])
    if "primary_timeframe" in cleaned and cleaned["primary_timeframe"] not in TIMEFRAMES:
        raise ValidationError({"primary_timeframe": f"One of {', '.join(TIMEFRAMES)}."})
    if "run_mode" in cleaned and cleaned["run_mode"] not in RunMode.values:
        raise ValidationError({"run_mode": f"One of {', '.join(RunMode.values)}."})
    if "settings" in cleaned:
        cleaned["settings"] = validate_pipeline_settings(cleaned["settings"] or {})
    if "schedule" in cleaned:
        cleaned["schedule"] = schedule_validate(cleaned["schedule"])
    if "mode_config" in cleaned:
        cleaned["mode_config"] = validate_mode_config(trading_mode, cleaned["mode_config"] or {})
    if cleaned.get("daily_budget") is not None:
        budget = Decimal(cleaned["daily_budget"])
        if not budget.is_finite() or budget < 0:
            raise ValidationError({"daily_budget": "A positive amount in USD, or empty."})
    return cleaned


def _name_taken(*, owner: User, name: str, exclude_pk=None) -> bool:
    """Pipeline names are unique per owner, compared without case (archived ones included:
    their runs and trades still carry the name)."""
    others = Pipeline.objects.filter(owner=owner, name__iexact=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


def require_free_name(*, owner: User, name: str, exclude_pk=None) -> None:
    # Serialise name checks per owner: two saves racing with one name would both pass.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    if _name_taken(owner=owner, name=name, exclude_pk=exclude_pk):
        raise ValidationError(
            {"name": f"You already have a pipeline named “{name}”; choose another name."}
        )


def free_pipeline_name(*, owner: User, name: str) -> str:
    """`name`, or `name (2)`, `name (3)`… : the first one the owner does not use yet."""
    candidate, number = name[:255], 2
    while _name_taken(owner=owner, name=candidate):
        suffix = f" ({number})"
        candidate = f"{name[: 255 - len(suffix)]}{suffix}"
        number += 1
    return candidate


def check_run_mode(pipeline: Pipeline) -> None:
    """A scheduled pipeline needs a schedule that says when."""
    if pipeline.run_mode != RunMode.RUN_SCHEDULED:
        return
    schedule = pipeline.schedule or {}
    kind = schedule.get("schedule_type")
    if not kind:
        raise ValidationError(
            {
                "schedule": "A scheduled pipeline needs a schedule (cron, market_open, interval or "
                "time_window)."
            }
        )
    if kind == "time_window" and not schedule.get("start_time"):
        raise ValidationError(
            {"schedule.start_time": "A time_window schedule starts at start_time."}
        )
