"""Times as the person reading them sees them: chart axes in their zone, the exchange's clock
where the market matters."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from trading import calendar


def chart_epoch(moment: datetime | None) -> int | None:
    """Seconds for a chart axis, shifted to the reader's wall clock.

    Lightweight Charts draws every timestamp as UTC, so the documented way to show local time
    is to add the zone's offset at that instant (DST included) to the timestamp."""
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    offset = moment.astimezone(timezone.get_current_timezone()).utcoffset()
    return int(moment.timestamp() + (offset.total_seconds() if offset else 0))


def exchange_time(moment: datetime | None) -> str:
    """ "09:35 ET" when the reader's zone shows a different clock from New York's; "" when it
    shows the same (no need to say it twice)."""
    if moment is None:
        return ""
    exchange = moment.astimezone(calendar.NEW_YORK)
    local = moment.astimezone(timezone.get_current_timezone())
    if local.utcoffset() == exchange.utcoffset():
        return ""
    return f"{exchange:%H:%M} ET"
