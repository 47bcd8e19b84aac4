"""ScheduleConfig (spec §8.2): when a pipeline may run, its trading window, daily limits and
end-of-day handling — validated with errors naming the field — and the time arithmetic on it."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from config.core.cron import cron_schedule
from trading import calendar

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Near the end of the window a new cycle is not started (§8.4): it could not finish in time.
NO_RESTART_BEFORE_END = timedelta(minutes=5)


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule_type: Literal["cron", "market_open", "interval", "time_window"] = "time_window"
    cron_expression: str | None = None
    market: Literal["US"] = "US"
    offset_minutes: int = Field(5, ge=0, le=390)
    interval_minutes: int | None = Field(None, ge=1, le=1440)
    active_during: Literal["market_hours", "24/7"] = "market_hours"
    start_time: str | None = None
    end_time: str | None = None
    timezone: str = "America/New_York"
    active_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    flatten_positions_at_end: bool = False
    stop_pipeline_at_end: bool = True
    # Continuous and on-signal pipelines: the pause between one cycle's end and the next start.
    cycle_interval_minutes: int = Field(5, ge=1, le=1440)
    max_trades_per_day: int | None = Field(None, ge=1, le=10_000)
    max_executions_per_day: int | None = Field(None, ge=1, le=100_000)
    stop_on_daily_loss: Decimal | None = Field(None, gt=0, max_digits=12, decimal_places=2)
    stop_on_drawdown: Decimal | None = Field(None, gt=0, le=100, max_digits=5, decimal_places=2)

    @field_validator("start_time", "end_time")
    @classmethod
    def _hh_mm(cls, value: str | None) -> str | None:
        if value is not None and not HHMM.match(value):
            raise ValueError("use HH:MM, 24-hour, e.g. 09:35")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. America/New_York") from None
        return value

    @field_validator("active_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("pick at least one day (0 = Monday … 6 = Sunday)")
        if any(day < 0 or day > 6 for day in value):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @field_validator("cron_expression")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                cron_schedule(value)
            except ValueError as error:
                raise ValueError(f"invalid cron expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _coherent(self) -> ScheduleConfig:
        if self.schedule_type == "cron" and not self.cron_expression:
            raise ValueError("cron_expression is required for a cron schedule")
        if self.schedule_type == "interval" and not self.interval_minutes:
            raise ValueError("interval_minutes is required for an interval schedule")
        if (self.start_time is None) != (self.end_time is None) and self.end_time is not None:
            raise ValueError("a window needs start_time as well as end_time")
        if self.start_time and self.end_time and self.start_time == self.end_time:
            raise ValueError("start_time and end_time are the same: the window would be empty")
        return self

    # --- time arithmetic ---------------------------------------------------------------------

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def has_window(self) -> bool:
        return bool(self.start_time and self.end_time)

    def _window_for(self, day: date) -> tuple[datetime, datetime]:
        """The window that opens on local `day` (it may close the next day: 22:00–02:00)."""
        start = datetime.combine(day, time.fromisoformat(self.start_time), self.zone)
        end = datetime.combine(day, time.fromisoformat(self.end_time), self.zone)
        if end <= start:
            end += timedelta(days=1)
        return start, end

    def current_window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window `now` falls in, or None. Without start/end there is no restriction."""
        if not self.has_window:
            return None
        local = now.astimezone(self.zone)
        for day in (local.date(), local.date() - timedelta(days=1)):
            if day.weekday() not in self.active_days:
                continue
            start, end = self._window_for(day)
            if start <= now < end:
                return start, end
        return None

    def is_within_window(self, now: datetime) -> bool:
        if not self.has_window:
            local = now.astimezone(self.zone)
            return local.weekday() in self.active_days
        return self.current_window(now) is not None

    def window_end(self, now: datetime) -> datetime | None:
        window = self.current_window(now)
        return window[1] if window else None

    def near_end(self, now: datetime) -> bool:
        end = self.window_end(now)
        return end is not None and end - now < NO_RESTART_BEFORE_END

    def last_window_end(self, now: datetime) -> datetime | None:
        """The end of the most recent window that has closed by `now` (for end-of-day)."""
        if not self.has_window:
            return None
        local = now.astimezone(self.zone)
        for back in range(0, 8):
            day = local.date() - timedelta(days=back)
            if day.weekday() not in self.active_days:
                continue
            _, end = self._window_for(day)
            if end <= now:
                return end
        return None

    def windows_between(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """The trading windows opening on active local days `first` to `last` (backtests)."""
        days = (first + timedelta(days=k) for k in range((last - first).days + 1))
        return [self._window_for(day) for day in days if day.weekday() in self.active_days]

    def next_window_start(self, after: datetime) -> datetime | None:
        if not self.has_window:
            return None
        local = after.astimezone(self.zone)
        for ahead in range(0, 15):
            day = local.date() + timedelta(days=ahead)
            if day.weekday() not in self.active_days:
                continue
            start, _ = self._window_for(day)
            if start > after:
                return start
        return None

    def next_market_open_run(self, after: datetime) -> datetime | None:
        """The next XNYS session open + offset after `after`, on an active day — holidays are
        skipped and a run that would fall after an early close is skipped too."""
        day = after.astimezone(calendar.NEW_YORK).date()
        for _ in range(0, 30):
            if calendar.is_session(day) and day.weekday() in self.active_days:
                session_open, session_close = calendar.session_open_close(day)
                run = session_open + timedelta(minutes=self.offset_minutes)
                if after < run < session_close:
                    return run
            day += timedelta(days=1)
        return None


def schedule_validate(raw: Any) -> dict[str, Any] | None:
    """The cleaned schedule, or a ValidationError naming each bad field (schedule.<field>)."""
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        raise ValidationError({"schedule": "must be an object"})
    try:
        return ScheduleConfig.model_validate(raw).model_dump(mode="json")
    except PydanticValidationError as error:
        messages: dict[str, list[str]] = {}
        for item in error.errors():
            field = ".".join(["schedule", *(str(part) for part in item["loc"])])
            message = item["msg"].removeprefix("Value error, ")
            messages.setdefault(field, []).append(message)
        raise ValidationError(messages) from None


def schedule_of(pipeline) -> ScheduleConfig:
    """The pipeline's schedule; without one: every day of the week, no window, no limits."""
    if pipeline.schedule:
        return ScheduleConfig.model_validate(pipeline.schedule)
    return ScheduleConfig(active_days=[0, 1, 2, 3, 4, 5, 6])


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
