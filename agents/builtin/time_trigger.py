"""Time trigger: lets a run through at the XNYS open plus an offset, at a set time, or on a cron."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents.base import AgentMetadata, BaseAgent
from agents.config import FieldError
from agents.context import AgentContext
from agents.errors import AgentError, TriggerNotMet
from agents.registry import register
from agents.state import PipelineState, TriggerResult
from config.core.cron import cron_schedule
from trading import calendar

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# How far ahead to look for the next scheduled moment before calling the schedule impossible.
SEARCH_DAYS = 400


@dataclass(frozen=True)
class Window:
    """One scheduled moment and the end of the span in which the trigger still counts as met."""

    start: datetime
    end: datetime
    label: str


def _cron_fields(expression: str):
    """(minutes, hours, days of month, months, weekdays with Sunday = 0, dom restricted, dow
    restricted) of a 5-field expression, parsed as the pipeline's schedule is
    (`config.core.cron`)."""
    try:
        spec = cron_schedule(expression)
    except ValueError as error:
        if len(expression.split()) != 5:
            raise AgentError(
                f"Time trigger: the cron expression {expression!r} needs 5 fields "
                "(minute hour day-of-month month day-of-week)."
            ) from None
        raise AgentError(f"Time trigger: invalid cron expression {expression!r}: {error}") from None
    _minute, _hour, day_of_month, _month, day_of_week = expression.split()
    return (
        sorted(spec.minute),
        sorted(spec.hour),
        spec.day_of_month,
        spec.month_of_year,
        spec.day_of_week,
        day_of_month != "*",
        day_of_week != "*",
    )


@register
class TimeTrigger(BaseAgent):
    metadata = AgentMetadata(
        agent_type="time_trigger",
        name="Time Trigger",
        description=(
            "Starts the pipeline at a time: a few minutes after the US market opens (following "
            "the NYSE calendar, holidays and early closes), at a set clock time, or on a cron "
            "schedule. Until then the run waits."
        ),
        category="trigger",
        icon="schedule",
        pricing_rate=Decimal("0"),
        is_free=True,
        config_schema={
            "type": "object",
            "title": "Time trigger",
            "description": "When the pipeline may run.",
            "properties": {
                "schedule": {
                    "type": "object",
                    "title": "Schedule",
                    "description": "When the trigger is met.",
                    "properties": {
                        "type": {
                            "type": "string",
                            "title": "Schedule type",
                            "description": (
                                "market_hours: minutes after the NYSE open; specific_time: a "
                                "clock time; cron: a cron expression."
                            ),
                            "enum": ["market_hours", "specific_time", "cron"],
                            "default": "market_hours",
                        },
                        "market": {
                            "type": "string",
                            "title": "Market",
                            "description": "Exchange calendar (US = NYSE).",
                            "enum": ["US"],
                            "default": "US",
                        },
                        "offset_minutes": {
                            "type": "integer",
                            "title": "Minutes after the open",
                            "description": "market_hours: start this many minutes after the open.",
                            "minimum": 0,
                            "maximum": 389,
                            "default": 5,
                        },
                        "time": {
                            "type": "string",
                            "title": "Time (HH:MM)",
                            "description": "specific_time: the clock time, 24-hour.",
                            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
                            "default": "09:35",
                        },
                        "timezone": {
                            "type": "string",
                            "title": "Timezone",
                            "description": "IANA timezone of the time or cron expression.",
                            "pattern": "^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+)*$",
                            "default": "America/New_York",
                        },
                        "cron": {
                            "type": "string",
                            "title": "Cron expression",
                            "description": (
                                "cron: minute hour day-of-month month day-of-week, e.g. "
                                "'*/15 10-15 * * 1-5'."
                            ),
                            "maxLength": 120,
                            "default": "0 10 * * 1-5",
                        },
                        "active_days": {
                            "type": "array",
                            "title": "Active days",
                            "description": "Days the trigger may fire (0 = Monday … 6 = Sunday).",
                            "items": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5, 6]},
                            "uniqueItems": True,
                            "minItems": 1,
                            "default": [0, 1, 2, 3, 4],
                        },
                        "trading_days_only": {
                            "type": "boolean",
                            "title": "Trading days only",
                            "description": (
                                "specific_time and cron: skip days the NYSE is closed "
                                "(market_hours always does)."
                            ),
                            "default": True,
                        },
                        "window_minutes": {
                            "type": "integer",
                            "title": "Window (minutes)",
                            "description": (
                                "specific_time and cron: how long after the scheduled moment the "
                                "trigger still counts as met (market_hours: until the close)."
                            ),
                            "minimum": 1,
                            "maximum": 1440,
                            "default": 30,
                        },
                    },
                    "required": ["type"],
                    "additionalProperties": False,
                    "default": {"type": "market_hours"},
                },
            },
            "required": ["schedule"],
            "additionalProperties": False,
        },
    )

    @classmethod
    def config_rules(cls, config: dict[str, Any]) -> list[FieldError]:
        schedule = config["schedule"]
        errors = []
        if schedule["type"] == "cron":
            try:
                _cron_fields(schedule["cron"])
            except AgentError as error:
                errors.append(FieldError("schedule.cron", str(error).split(": ", 1)[-1]))
        if schedule["type"] != "market_hours":
            try:
                ZoneInfo(schedule["timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(
                    FieldError(
                        "schedule.timezone",
                        f"{schedule['timezone']!r} is not an IANA time zone, e.g. America/New_York",
                    )
                )
        return errors

    def __init__(self, agent_id: str, config: dict[str, Any]):
        super().__init__(agent_id, config)
        self.schedule = config["schedule"]
        self.kind = self.schedule["type"]
        self.active_days = frozenset(self.schedule["active_days"])
        self.window = timedelta(minutes=self.schedule["window_minutes"])
        self._cron: tuple | None = None

    # --- schedule ---------------------------------------------------------------------------

    def _zone(self) -> ZoneInfo:
        if self.kind == "market_hours":
            return calendar.NEW_YORK
        name = self.schedule["timezone"]
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise AgentError(
                f"Time trigger: unknown timezone {name!r}; use an IANA name like America/New_York."
            ) from None

    def _day_allowed(self, day: date) -> bool:
        if day.weekday() not in self.active_days:
            return False
        if self.kind == "market_hours" or self.schedule["trading_days_only"]:
            return calendar.is_session(day)
        return True

    def _windows_on(self, day: date, zone: ZoneInfo) -> list[Window]:
        """The scheduled moments on local `day`, in time order."""
        if not self._day_allowed(day):
            return []
        if self.kind == "market_hours":
            session_open, session_close = calendar.session_open_close(day)
            offset = self.schedule["offset_minutes"]
            start = session_open + timedelta(minutes=offset)
            if start >= session_close:  # e.g. a long offset on a 13:00 early close
                return []
            label = f"{offset} min after the NYSE open" if offset else "the NYSE open"
            # "Market hours" means the whole session after the offset, so continuous pipelines
            # keep running until the close; window_minutes applies to set times and cron.
            return [Window(start, session_close, label)]
        if self.kind == "specific_time":
            hour, minute = map(int, self.schedule["time"].split(":"))
            start = datetime.combine(day, time(hour, minute), zone).astimezone(UTC)
            return [Window(start, start + self.window, f"{hour:02d}:{minute:02d} {zone.key}")]
        return self._cron_windows(day, zone)

    def _cron_windows(self, day: date, zone: ZoneInfo) -> list[Window]:
        if self._cron is None:
            self._cron = _cron_fields(self.schedule["cron"])
        minutes, hours, days_of_month, months, weekdays, dom_set, dow_set = self._cron
        if day.month not in months:
            return []
        in_dom = day.day in days_of_month
        in_dow = (day.isoweekday() % 7) in weekdays
        # Classic cron: when both day fields are restricted, either one matching is enough.
        if not ((in_dom or in_dow) if dom_set and dow_set else (in_dom and in_dow)):
            return []
        label = f"cron {self.schedule['cron']} ({zone.key})"
        windows = []
        for hour in hours:
            for minute in minutes:
                start = datetime.combine(day, time(hour, minute), zone).astimezone(UTC)
                windows.append(Window(start, start + self.window, label))
        return windows

    def windows_between(self, first: date, last: date) -> list[Window]:
        """Every scheduled window on the local days `first` to `last`, in time order (the
        backtester replays the trigger from these)."""
        zone = self._zone()
        windows: list[Window] = []
        day = first
        while day <= last:
            windows.extend(self._windows_on(day, zone))
            day += timedelta(days=1)
        return windows

    def _current_window(self, now: datetime, zone: ZoneInfo) -> Window | None:
        today = now.astimezone(zone).date()
        # A window can reach past midnight (up to 24 hours), so yesterday's may still be open.
        for day in (today, today - timedelta(days=1)):
            for window in reversed(self._windows_on(day, zone)):
                if window.start <= now < window.end:
                    return window
        return None

    def _next_window(self, now: datetime, zone: ZoneInfo) -> Window:
        today = now.astimezone(zone).date()
        for offset in range(SEARCH_DAYS):
            for window in self._windows_on(today + timedelta(days=offset), zone):
                if window.start > now:
                    return window
        days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(self.active_days))
        raise AgentError(
            f"Time trigger: the schedule never fires in the next {SEARCH_DAYS} days "
            f"(active days: {days}); check the active days and the cron expression."
        )

    # --- agent ------------------------------------------------------------------------------

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        now = ctx.clock.now().astimezone(UTC)
        zone = self._zone()
        window = self._current_window(now, zone)
        if window is None:
            upcoming = self._next_window(now, zone)
            local = upcoming.start.astimezone(zone)
            raise TriggerNotMet(
                f"Waiting for {upcoming.label}: next at {local:%a %Y-%m-%d %H:%M} {zone.key}.",
                next_check_at=upcoming.start,
                details={
                    "schedule_type": self.kind,
                    "next_at": upcoming.start.isoformat(),
                    "window_ends_at": upcoming.end.isoformat(),
                },
            )
        local = window.start.astimezone(zone)
        state.trigger = TriggerResult(
            agent_id=self.agent_id,
            agent_type=self.agent_type,
            met=True,
            condition=f"{window.label} ({local:%a %Y-%m-%d %H:%M} {zone.key})",
            details={
                "schedule_type": self.kind,
                "scheduled_at": window.start.isoformat(),
                "window_ends_at": window.end.isoformat(),
                "minutes_late": round((now - window.start).total_seconds() / 60, 1),
            },
            checked_at=now,
        )
        return state

    def summarize(self, state: PipelineState) -> str:
        trigger = state.trigger
        if trigger is None or trigger.agent_id != self.agent_id:
            return "Waiting for the schedule"
        return f"Met: {trigger.condition}"
