"""Ids a page or the API was given (pipelines, backtests, a filter), read as UUIDs."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError


def parse_ids(raw_ids, *, field: str, noun: str) -> list[str]:
    """Ids as the canonical UUID strings; a malformed one is a ValidationError naming `field`."""
    ids = []
    for raw in raw_ids:
        try:
            ids.append(str(uuid.UUID(str(raw))))
        except ValueError:
            raise ValidationError({field: f"{raw!r} is not a {noun} id."}) from None
    return ids


def is_id(value) -> bool:
    """Whether `value` reads as an id (a UUID): filters ignore one that does not."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
