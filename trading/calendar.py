"""NYSE (XNYS) trading sessions: holidays, early closes and open/close times, cached for speed."""

from __future__ import annotations

import functools
import threading
import warnings
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

EXCHANGE = "XNYS"
NEW_YORK = ZoneInfo("America/New_York")

# The table starts early enough for any CSV history we are likely to be given and reaches a few
# years past today, so schedules and replays never run off its end. A session's times depend only
# on exchange rules, never on these bounds, so the answer for a date is the same in every process.
FIRST_DAY = date(2000, 1, 1)
_MIN_LAST_DAY = date(2031, 12, 31)
_YEARS_AHEAD = 3

_EPOCH = date(1970, 1, 1)
_build_lock = threading.Lock()


@dataclass(frozen=True, eq=False)
class SessionTable:
    """Every XNYS session as parallel numpy arrays, for vectorised code (providers, aggregation).

    `days` holds each session's date as days since 1970-01-01; `opens` and `closes` hold its
    open and close as Unix seconds (UTC). All three are sorted ascending and the same length.
    """

    days: np.ndarray
    opens: np.ndarray
    closes: np.ndarray
    first_day: date
    last_day: date
    # Plain-list copies: `bisect` on a list is ~10x faster than numpy for one scalar lookup.
    day_list: list[int] = field(repr=False, default_factory=list)
    open_list: list[int] = field(repr=False, default_factory=list)
    close_list: list[int] = field(repr=False, default_factory=list)
    first_second: float = 0.0
    last_second: float = 0.0

    def __len__(self) -> int:
        return len(self.days)

    def index_of_day(self, day: date) -> int | None:
        """Position of the session on `day`, or None when `day` is not a session."""
        ordinal = (day - _EPOCH).days
        position = bisect_left(self.day_list, ordinal)
        if position < len(self.day_list) and self.day_list[position] == ordinal:
            return position
        return None

    def index_at_or_before(self, moment_seconds: float) -> int:
        """Position of the last session that opened at or before the instant (-1 if none)."""
        return bisect_right(self.open_list, moment_seconds) - 1

    def index_closed_by(self, moment_seconds: float) -> int:
        """Position of the last session that closed at or before the instant (-1 if none)."""
        return bisect_right(self.close_list, moment_seconds) - 1

    def day(self, index: int) -> date:
        return _EPOCH + timedelta(days=self.day_list[index])

    def open_at(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.open_list[index], UTC)

    def close_at(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.close_list[index], UTC)


def _last_day() -> date:
    today = datetime.now(UTC).date()
    return max(_MIN_LAST_DAY, date(today.year + _YEARS_AHEAD, 12, 31))


@functools.cache
def _calendar_bounds() -> tuple[date, date]:
    return FIRST_DAY, _last_day()


@functools.cache
def exchange_calendar():
    """The exchange_calendars XNYS calendar, built once per process on first use (~0.3 s)."""
    with _build_lock:
        import exchange_calendars

        first, last = _calendar_bounds()
        with warnings.catch_warnings():
            # exchange_calendars 4.13 trips pandas 3's deprecation of Series.values on
            # tz-aware data while building; it is their code, not ours, and harmless.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
            return exchange_calendars.get_calendar(EXCHANGE, start=first, end=last)


@functools.cache
def session_table() -> SessionTable:
    """The session arrays, built from the calendar once per process."""
    schedule = exchange_calendar().schedule
    days = schedule.index.as_unit("s").asi8 // 86_400
    opens = schedule["open"].dt.tz_convert(None).to_numpy().astype("datetime64[s]")
    closes = schedule["close"].dt.tz_convert(None).to_numpy().astype("datetime64[s]")
    days, opens, closes = (a.astype(np.int64).copy() for a in (days, opens, closes))
    for array in (days, opens, closes):
        array.setflags(write=False)
    first, last = _calendar_bounds()
    return SessionTable(
        days=days,
        opens=opens,
        closes=closes,
        first_day=first,
        last_day=last,
        day_list=days.tolist(),
        open_list=opens.tolist(),
        close_list=closes.tolist(),
        first_second=datetime.combine(first, datetime.min.time(), UTC).timestamp(),
        last_second=datetime.combine(last, datetime.max.time(), UTC).timestamp(),
    )


def _as_day(value: date) -> date:
    """A calendar date; an aware datetime counts as its New York date, a naive one as its date."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(NEW_YORK).date()
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date, got {type(value).__name__}")


def _as_utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None:
        raise ValueError("pass a timezone-aware datetime")
    return moment.astimezone(UTC)


def _check_range(day: date) -> None:
    table = session_table()
    if not (table.first_day <= day <= table.last_day):
        raise ValueError(
            f"{day} is outside the {EXCHANGE} calendar ({table.first_day} to {table.last_day})"
        )


def _check_moment(seconds: float) -> None:
    table = session_table()
    if not (table.first_second <= seconds <= table.last_second):
        moment = datetime.fromtimestamp(seconds, UTC)
        raise ValueError(
            f"{moment.isoformat()} is outside the {EXCHANGE} calendar "
            f"({table.first_day} to {table.last_day})"
        )


@functools.lru_cache(maxsize=8192)
def _session_index(day: date) -> int | None:
    _check_range(day)
    return session_table().index_of_day(day)


def is_session(day: date) -> bool:
    """Whether the exchange holds a regular session on `day`."""
    return _session_index(_as_day(day)) is not None


@functools.lru_cache(maxsize=8192)
def _open_close(day: date) -> tuple[datetime, datetime]:
    index = _session_index(day)
    if index is None:
        raise ValueError(f"{day} is not an {EXCHANGE} session")
    table = session_table()
    return table.open_at(index), table.close_at(index)


def session_open_close(day: date) -> tuple[datetime, datetime]:
    """The session's open and close in UTC (early closes honoured); ValueError on non-sessions."""
    return _open_close(_as_day(day))


def sessions_between(start: date, end: date) -> list[date]:
    """Every session date from `start` to `end`, both inclusive, ascending."""
    start, end = _as_day(start), _as_day(end)
    if end < start:
        return []
    _check_range(start)
    _check_range(end)
    table = session_table()
    lo = bisect_left(table.day_list, (start - _EPOCH).days)
    hi = bisect_right(table.day_list, (end - _EPOCH).days)
    return [_EPOCH + timedelta(days=d) for d in table.day_list[lo:hi]]


@functools.lru_cache(maxsize=8192)
def _previous_session(day: date) -> date:
    _check_range(day)
    table = session_table()
    position = bisect_left(table.day_list, (day - _EPOCH).days) - 1
    if position < 0:
        raise ValueError(f"no {EXCHANGE} session before {day} in the calendar")
    return table.day(position)


def previous_session(day: date) -> date:
    """The last session strictly before `day` (whether or not `day` is itself a session)."""
    return _previous_session(_as_day(day))


@functools.lru_cache(maxsize=8192)
def _next_session(day: date) -> date:
    _check_range(day)
    table = session_table()
    position = bisect_right(table.day_list, (day - _EPOCH).days)
    if position >= len(table):
        raise ValueError(f"no {EXCHANGE} session after {day} in the calendar")
    return table.day(position)


def next_session(day: date) -> date:
    """The first session strictly after `day`."""
    return _next_session(_as_day(day))


def next_open(after: datetime) -> datetime:
    """The first session open strictly after `after` (UTC)."""
    seconds = _as_utc(after).timestamp()
    _check_moment(seconds)
    table = session_table()
    position = bisect_right(table.open_list, seconds)
    if position >= len(table):
        raise ValueError(f"no {EXCHANGE} session opens after {after.isoformat()} in the calendar")
    return table.open_at(position)


def next_close(after: datetime) -> datetime:
    """The first session close strictly after `after` (UTC)."""
    seconds = _as_utc(after).timestamp()
    _check_moment(seconds)
    table = session_table()
    position = bisect_right(table.close_list, seconds)
    if position >= len(table):
        raise ValueError(f"no {EXCHANGE} session closes after {after.isoformat()} in the calendar")
    return table.close_at(position)


def is_open(at: datetime) -> bool:
    """Whether a regular session is in progress at `at` (open inclusive, close exclusive)."""
    seconds = _as_utc(at).timestamp()
    _check_moment(seconds)
    table = session_table()
    index = table.index_at_or_before(seconds)
    return index >= 0 and seconds < table.close_list[index]


def session_at(at: datetime) -> date | None:
    """The date of the session in progress at `at`, or None outside regular hours."""
    seconds = _as_utc(at).timestamp()
    _check_moment(seconds)
    table = session_table()
    index = table.index_at_or_before(seconds)
    if index >= 0 and seconds < table.close_list[index]:
        return table.day(index)
    return None


def last_closed_session(at: datetime) -> date | None:
    """The most recent session whose close is at or before `at`, or None if there is none."""
    seconds = _as_utc(at).timestamp()
    _check_moment(seconds)
    table = session_table()
    position = table.index_closed_by(seconds)
    return table.day(position) if position >= 0 else None


@functools.lru_cache(maxsize=8192)
def _minutes_in_session(day: date) -> int:
    index = _session_index(day)
    if index is None:
        return 0
    table = session_table()
    return (table.close_list[index] - table.open_list[index]) // 60


def minutes_in_session(day: date) -> int:
    """Length of the session on `day` in minutes (390, 210 on early closes, 0 on non-sessions)."""
    return _minutes_in_session(_as_day(day))
