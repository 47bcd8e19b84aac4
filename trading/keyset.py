"""Keyset pagination for history tables: a page is found by the (key, id) of the row next to it,
not by OFFSET, so page 200 costs what page 1 costs and a row written while the trader reads
never shifts a row onto two pages or off both.

The key is a time (the trades and positions pages, newest first) or a whole number such as a
backtest's entry bar (its trades table, oldest first: `oldest_first=True`). Either way the
`newer` cursor leads to rows with larger keys and the `older` cursor to smaller ones.

A cursor is "<key>-<id>": plain digits, safe in a URL; a time key is written in microseconds
since the epoch, exact to the microsecond. A cursor that does not parse is treated as no cursor
(the first page): a page never fails on a hand-edited URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass
class KeysetPage:
    """One page of rows, newest first (or oldest first), with the cursors of the pages on
    either side."""

    rows: list[Any] = field(default_factory=list)
    newer: str | None = None  # cursor for the page of newer rows, None on the newest page
    older: str | None = None  # cursor for the page of older rows, None on the oldest page
    oldest_first: bool = False  # the rows read oldest first: the first page is the oldest

    @property
    def has_other_pages(self) -> bool:
        return bool(self.newer or self.older)


def cursor_for(key: datetime | int, pk: int) -> str:
    if isinstance(key, datetime):
        key = (key - EPOCH) // MICROSECOND
    return f"{key}-{pk}"


def cursor_parse(cursor: str | None, *, time_key: bool = True) -> tuple[Any, int] | None:
    """(key, id) of a cursor, the key a time unless `time_key` is False; None for no cursor or
    one that does not parse."""
    if not cursor:
        return None
    key, _, pk = str(cursor).partition("-")
    if not (key.isdigit() and pk.isdigit()) or len(key) > 18 or len(pk) > 18:
        return None
    if not time_key:
        return int(key), int(pk)
    try:
        return EPOCH + timedelta(microseconds=int(key)), int(pk)
    except OverflowError:
        return None


def _is_time(queryset: QuerySet, key_field: str) -> bool:
    return isinstance(queryset.model._meta.get_field(key_field), models.DateTimeField)


def _walk(queryset: QuerySet, key_field: str, start, *, larger: bool, size: int):
    """Up to `size` rows past `start` ((key, id), or None from the end) towards larger keys
    (ascending) or smaller ones (descending), and whether more follow them."""
    if start:
        key, pk = start
        op = "gt" if larger else "lt"
        queryset = queryset.filter(
            Q(**{f"{key_field}__{op}": key}) | Q(**{key_field: key, f"pk__{op}": pk})
        )
    order = (key_field, "pk") if larger else (f"-{key_field}", "-pk")
    rows = list(queryset.order_by(*order)[: size + 1])
    return rows[:size], len(rows) > size


def keyset_page(
    queryset: QuerySet,
    *,
    key_field: str,
    size: int,
    older_than: str | None = None,
    newer_than: str | None = None,
    oldest_first: bool = False,
) -> KeysetPage:
    """`size` rows of `queryset` by (`key_field`, id), newest first (oldest first with
    `oldest_first`): the first page, the page just older than the `older_than` cursor, or the
    page just newer than `newer_than`. One query (it reads one row more than it shows to know
    whether another page follows)."""
    time_key = _is_time(queryset, key_field)
    newer_key = cursor_parse(newer_than, time_key=time_key)
    older_key = None if newer_key else cursor_parse(older_than, time_key=time_key)
    larger = bool(newer_key) or (oldest_first and not older_key)
    rows, more = _walk(queryset, key_field, newer_key or older_key, larger=larger, size=size)
    if not rows:
        # Past either end (a stale cursor): no rows, and a way back to the first page.
        return KeysetPage(rows=[], oldest_first=oldest_first)
    # Walking towards larger keys, more rows means newer ones follow, and older ones exist
    # unless this is the oldest-first table's first page; and the other way round.
    more_newer = more if larger else bool(older_key)
    more_older = more if not larger else bool(newer_key)
    if larger != oldest_first:
        rows.reverse()
    newest, oldest = (rows[-1], rows[0]) if oldest_first else (rows[0], rows[-1])
    return KeysetPage(
        rows=rows,
        newer=cursor_for(getattr(newest, key_field), newest.pk) if more_newer else None,
        older=cursor_for(getattr(oldest, key_field), oldest.pk) if more_older else None,
        oldest_first=oldest_first,
    )
