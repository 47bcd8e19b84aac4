"""Scanners: the ticker lists a pipeline watches — create, update, delete, the demo one."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from config.core.errors import Conflict
from pipelines.models import (
    PipelineStatus,
)
from pipelines.services import (
    normalize_symbols,
)
from signals.models import Scanner, ScannerType

DEMO_SCANNER_NAME = "Demo: big tech"
DEMO_SCANNER_TICKERS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META"]


def _scanner_name(name: Any) -> str:
    cleaned = str(name or "").strip()
    if not cleaned:
        raise ValidationError({"name": "Give the scanner a name, e.g. 'Tech stocks'."})
    return cleaned[:255]


def _scanner_type(scanner_type: Any) -> str:
    # Filter- and API-based scanners are later phases (§18.2); only manual lists exist now.
    if scanner_type not in (None, "", ScannerType.MANUAL):
        raise ValidationError({"scanner_type": "Only manual ticker lists exist for now."})
    return ScannerType.MANUAL


def scanner_tickers_clean(tickers: Any) -> list[str]:
    """Upper-cased, validated, de-duplicated tickers; at least one (ValidationError naming
    `tickers` otherwise)."""
    return _scanner_tickers(tickers)


def _scanner_tickers(tickers: Any) -> list[str]:
    cleaned = normalize_symbols(tickers, field="tickers")
    if not cleaned:
        raise ValidationError({"tickers": "List at least one ticker, e.g. AAPL."})
    return cleaned


@transaction.atomic
def scanner_create(
    *, owner: User, name: str, tickers: list[str], scanner_type: str = ScannerType.MANUAL
) -> Scanner:
    return Scanner.objects.create(
        owner=owner,
        name=_scanner_name(name),
        scanner_type=_scanner_type(scanner_type),
        tickers=_scanner_tickers(tickers),
    )


@transaction.atomic
def scanner_update(
    *, scanner: Scanner, name: str | None = None, tickers: list[str] | None = None
) -> Scanner:
    if name is not None:
        scanner.name = _scanner_name(name)
    if tickers is not None:
        scanner.tickers = _scanner_tickers(tickers)
    # save() sends post_save: running dispatchers pick up the new tickers at once.
    scanner.save()
    return scanner


@transaction.atomic
def scanner_delete(*, scanner: Scanner) -> None:
    """Refused (Conflict) while an active pipeline uses the scanner: deleting it would silently
    leave that pipeline with nothing to watch."""
    Scanner.objects.select_for_update().filter(pk=scanner.pk).first()
    active = list(
        scanner.pipelines.filter(status=PipelineStatus.ACTIVE).values_list("name", flat=True)[:5]
    )
    if active:
        raise Conflict(
            f"Scanner “{scanner.name}” is used by active pipelines ({', '.join(active)}); "
            "pause them or give them another scanner first."
        )
    scanner.delete()


def demo_scanner_seed(*, owner: User) -> Scanner | None:
    if Scanner.objects.filter(owner=owner, name=DEMO_SCANNER_NAME).exists():
        return None
    return scanner_create(owner=owner, name=DEMO_SCANNER_NAME, tickers=DEMO_SCANNER_TICKERS)
