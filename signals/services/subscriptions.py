"""Which signals start a pipeline: validating its subscriptions against the catalogue and the
trader's plan, saving them, and saying why a pipeline would not listen now."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from pipelines.models import (
    Pipeline,
    PipelineStatus,
    RunMode,
)
from signals import catalog
from signals.models import Scanner

MAX_SUBSCRIPTIONS = 20


def subscriptions_validate(raw: Any) -> list[dict]:
    """`[{signal_type, min_confidence}]` with known types, 0 ≤ min_confidence ≤ 100 (default 0),
    each type once. Raises ValidationError naming the offending entry."""
    field_name = "signal_subscriptions"
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError(
            {field_name: "A list like [{'signal_type': 'golden_cross', 'min_confidence': 80}]."}
        )
    if len(raw) > MAX_SUBSCRIPTIONS:
        raise ValidationError({field_name: f"At most {MAX_SUBSCRIPTIONS} subscriptions."})
    cleaned: dict[str, dict] = {}
    for position, entry in enumerate(raw):
        where = f"Subscription {position + 1}"
        if not isinstance(entry, dict):
            raise ValidationError({field_name: f"{where}: an object with signal_type."})
        signal_type = str(entry.get("signal_type") or "").strip().lower()
        if signal_type not in catalog.SIGNAL_TYPES:
            raise ValidationError(
                {
                    field_name: f"{where}: unknown signal type {entry.get('signal_type')!r}; "
                    f"one of {', '.join(catalog.known_signal_types())}."
                }
            )
        minimum = entry.get("min_confidence", 0)
        if minimum is None or minimum == "":
            minimum = 0
        try:
            if isinstance(minimum, bool):
                raise TypeError
            minimum = float(minimum)
        except (TypeError, ValueError):
            raise ValidationError(
                {field_name: f"{where} ({signal_type}): min_confidence is a number from 0 to 100."}
            ) from None
        if not 0 <= minimum <= 100:
            raise ValidationError(
                {field_name: f"{where} ({signal_type}): min_confidence must be between 0 and 100."}
            )
        if signal_type in cleaned:
            raise ValidationError({field_name: f"{where}: {signal_type} is listed twice."})
        cleaned[signal_type] = {
            "signal_type": signal_type,
            "min_confidence": int(minimum) if minimum.is_integer() else round(minimum, 2),
        }
    return list(cleaned.values())


def subscriptions_check_tier(*, user: User, subscriptions: list[dict]) -> None:
    """PermissionDenied (403) naming the first signal type the user's tier does not include."""
    tier = catalog.effective_tier(user)
    allowed = catalog.allowed_signal_types(tier)
    for entry in subscriptions:
        if entry["signal_type"] not in allowed:
            needed = catalog.required_tier(entry["signal_type"])
            raise PermissionDenied(
                f"The {entry['signal_type']} signal needs the {needed.title()} plan; "
                f"you are on {tier.title()}. Upgrade, or remove {entry['signal_type']}."
            )


@transaction.atomic
def pipeline_signal_settings_set(
    *, pipeline: Pipeline, scanner_id: int | None, signal_subscriptions: Any
) -> Pipeline:
    """Which scanner a pipeline watches and which signals start it."""
    subscriptions = subscriptions_validate(signal_subscriptions)
    subscriptions_check_tier(user=pipeline.owner, subscriptions=subscriptions)
    scanner = None
    if scanner_id is not None:
        # Another user's scanner reads as missing, the same as one that does not exist.
        scanner = Scanner.objects.filter(owner_id=pipeline.owner_id, pk=scanner_id).first()
        if scanner is None:
            raise ValidationError({"scanner_id": "No such scanner; create one under Scanners."})
    pipeline.scanner = scanner
    pipeline.signal_subscriptions = subscriptions
    pipeline.save(update_fields=["scanner", "signal_subscriptions", "updated_at"])
    return pipeline


def pipeline_listening_problem(pipeline: Pipeline) -> str:
    """Why signals would not start this pipeline now ("" when they would)."""
    if pipeline.run_mode != RunMode.RUN_ON_SIGNAL:
        return "Its run mode is not “Run on signal”; signals start it only in that mode."
    if pipeline.status != PipelineStatus.ACTIVE:
        return f"It is {pipeline.get_status_display().lower()}; signals start active pipelines."
    if not pipeline.signal_subscriptions:
        return "It subscribes to no signal type yet."
    if pipeline.scanner_id is None and not pipeline.symbols:
        return "It has no scanner and no symbols, so no ticker can match."
    return ""
