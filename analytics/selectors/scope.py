"""The scope a trader asks about: whose trades (the user, or some of their pipelines), in which
one trading mode, over which days of their calendar — read from a page's or the API's input,
bad input a ValidationError naming the field."""

from __future__ import annotations

import dataclasses
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError

from accounts import selectors as account_selectors
from accounts.models import User
from trading.models import Mode

PERIODS = {"7D": 7, "30D": 30, "90D": 90, "YTD": None, "ALL": None, "CUSTOM": None}
PERIOD_LABELS = {
    "7D": "7 days",
    "30D": "30 days",
    "90D": "90 days",
    "YTD": "Year to date",
    "ALL": "All time",
    "CUSTOM": "Custom",
}
TEST_MODES = {Mode.SIMULATION, Mode.VALIDATION}
EARLIEST_DAY = date(2000, 1, 1)  # the exchange calendar's first day


@dataclass(frozen=True)
class Scope:
    """What the trader asked about: whose trades, in which mode, over which days (their zone)."""

    user: User
    mode: str
    period: str
    first_day: date | None  # None: from the first trade ("all time")
    last_day: date
    zone: zoneinfo.ZoneInfo
    pipeline_ids: tuple = ()  # empty: every pipeline of the user (and trades without one)

    @property
    def no_real_money(self) -> bool:
        """SIMULATION and VALIDATION never reach a broker: their figures say so."""
        return self.mode in TEST_MODES

    @property
    def start(self) -> datetime | None:
        if self.first_day is None:
            return None
        return datetime.combine(self.first_day, time.min, self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min, self.zone)

    @property
    def period_label(self) -> str:
        if self.period == "CUSTOM":
            return f"{self.first_day:%d %b %Y} – {self.last_day:%d %b %Y}"
        return PERIOD_LABELS[self.period]

    def query(self, **extra) -> dict[str, str]:
        """The scope as query parameters (links, exports, htmx)."""
        params = {"period": self.period, "mode": self.mode}
        if self.period == "CUSTOM":
            params["start"] = self.first_day.isoformat()
            params["end"] = self.last_day.isoformat()
        params.update({k: v for k, v in extra.items() if v})
        return params

    def with_pipelines(self, pipeline_ids) -> Scope:
        """The same mode and days, narrowed to these pipelines."""
        return dataclasses.replace(self, pipeline_ids=tuple(pipeline_ids))


def _parse_day(value, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({name: f"{name} must be a date like 2026-01-31."}) from None


def scope_for(
    *,
    user: User,
    period: str | None = None,
    start=None,
    end=None,
    mode: str | None = None,
    pipeline_ids=(),
) -> Scope:
    """Read the scope from what a page or the API was given; bad input is a ValidationError
    naming the field. Start and end dates imply a custom period."""
    zone = account_selectors.user_zone(user)
    today = account_selectors.user_today(user)
    mode = (mode or Mode.SIMULATION).upper()
    if mode not in Mode.values:
        raise ValidationError({"mode": f"mode must be one of {', '.join(Mode.values)}."})
    period = (period or ("CUSTOM" if start or end else "30D")).upper()
    if period not in PERIODS:
        raise ValidationError({"period": f"period must be one of {', '.join(PERIODS)}."})
    first_day: date | None
    last_day = today
    if period == "CUSTOM":
        if not start:
            raise ValidationError({"start": "A custom period needs a start date."})
        first_day = _parse_day(start, "start")
        if first_day < EARLIEST_DAY:
            raise ValidationError({"start": f"start must be on or after {EARLIEST_DAY}."})
        # Days to come hold no trades yet: a period ends today at the latest.
        last_day = min(_parse_day(end, "end") if end else today, today)
        if last_day < first_day:
            raise ValidationError(
                {"end": "end must be on or after start, and start not after today."}
            )
    elif period == "YTD":
        first_day = today.replace(month=1, day=1)
    elif period == "ALL":
        first_day = None
    else:
        first_day = today - timedelta(days=PERIODS[period] - 1)
    return Scope(
        user=user,
        mode=mode,
        period=period,
        first_day=first_day,
        last_day=last_day,
        zone=zone,
        pipeline_ids=tuple(pipeline_ids),
    )
