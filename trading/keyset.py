"""Keyset pagination for history tables, newest first: a page is found by the (time, id) of the
row next to it, not by OFFSET, so page 200 costs what page 1 costs and a row written while the
trader reads never shifts a row onto two pages or off both.

A cursor is "<microseconds since the epoch>-<id>": plain digits, safe in a URL, exact to the
microsecond. A cursor that does not parse is treated as no cursor (the first page): a page never
fails on a hand-edited URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass
class KeysetPage:
    """One page of rows, newest first, with the cursors of the pages on either side."""

    rows: list[Any] = field(default_factory=list)
    newer: str | None = None  # cursor for the page of newer rows, None on the first page
    older: str | None = None  # cursor for the page of older rows, None on the last page

    @property
    def has_other_pages(self) -> bool:
        return bool(self.newer or self.older)


def cursor_for(moment: datetime, pk: int) -> str:
    return f"{(moment - EPOCH) // MICROSECOND}-{pk}"


def cursor_parse(cursor: str | None) -> tuple[datetime, int] | None:
    """(time, id) of a cursor; None for no cursor or one that does not parse."""
    if not cursor:
        return None
    micros, _, pk = str(cursor).partition("-")
    if not (micros.isdigit() and pk.isdigit()) or len(micros) > 18 or len(pk) > 18:
        return None
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except OverflowError:
        return None


def keyset_page(
    queryset: QuerySet,
    *,
    time_field: str,
    size: int,
    older_than: str | None = None,
    newer_than: str | None = None,
) -> KeysetPage:
    """`size` rows of `queryset` newest first by (`time_field`, id): the first page, the page
    just older than the `older_than` cursor, or the page just newer than `newer_than`.
    One query (it reads one row more than it shows to know whether another page follows)."""
    newer_key = cursor_parse(newer_than)
    older_key = None if newer_key else cursor_parse(older_than)
    if newer_key:
        moment, pk = newer_key
        after = Q(**{f"{time_field}__gt": moment}) | Q(**{time_field: moment, "pk__gt": pk})
        rows = list(queryset.filter(after).order_by(time_field, "pk")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = True
    else:
        if older_key:
            moment, pk = older_key
            before = Q(**{f"{time_field}__lt": moment}) | Q(**{time_field: moment, "pk__lt": pk})
            queryset = queryset.filter(before)
        rows = list(queryset.order_by(f"-{time_field}", "-pk")[: size + 1])
        more_older = len(rows) > size
        rows = rows[:size]
        more_newer = older_key is not None
    if not rows:
        # Past either end (a stale cursor): no rows, and a way back to the first page.
        return KeysetPage(rows=[], newer=None, older=None)
    return KeysetPage(
        rows=rows,
        newer=cursor_for(getattr(rows[0], time_field), rows[0].pk) if more_newer else None,
        older=cursor_for(getattr(rows[-1], time_field), rows[-1].pk) if more_older else None,
    )
