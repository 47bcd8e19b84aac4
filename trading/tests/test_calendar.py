"""XNYS calendar helpers: sessions, holidays, early closes, next open."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from trading import calendar

THANKSGIVING = date(2026, 11, 26)
HALF_DAY = date(2026, 11, 27)


def test_it_knows_holidays_and_weekends_are_not_sessions():
    assert calendar.is_session(date(2026, 11, 25))
    assert not calendar.is_session(THANKSGIVING)
    assert not calendar.is_session(date(2026, 11, 28))  # Saturday
    assert not calendar.is_session(date(2026, 12, 25))
    assert calendar.is_session(HALF_DAY)


def test_it_gives_regular_open_and_close_in_utc():
    # November: New York is UTC-5, so 09:30-16:00 is 14:30-21:00 UTC.
    assert calendar.session_open_close(date(2026, 11, 25)) == (
        datetime(2026, 11, 25, 14, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 21, 0, tzinfo=UTC),
    )
    # July: UTC-4.
    assert calendar.session_open_close(date(2026, 7, 1)) == (
        datetime(2026, 7, 1, 13, 30, tzinfo=UTC),
        datetime(2026, 7, 1, 20, 0, tzinfo=UTC),
    )


def test_it_honours_early_closes():
    assert calendar.session_open_close(HALF_DAY) == (
        datetime(2026, 11, 27, 14, 30, tzinfo=UTC),
        datetime(2026, 11, 27, 18, 0, tzinfo=UTC),
    )
    assert calendar.minutes_in_session(HALF_DAY) == 210
    assert calendar.minutes_in_session(date(2026, 11, 25)) == 390
    assert calendar.minutes_in_session(THANKSGIVING) == 0


def test_it_refuses_open_close_for_a_non_session():
    with pytest.raises(ValueError, match="not an XNYS session"):
        calendar.session_open_close(THANKSGIVING)


def test_it_lists_sessions_between_two_dates_inclusive():
    assert calendar.sessions_between(date(2026, 11, 23), date(2026, 11, 30)) == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        HALF_DAY,
        date(2026, 11, 30),
    ]
    assert calendar.sessions_between(date(2026, 11, 30), date(2026, 11, 23)) == []


def test_it_finds_previous_and_next_sessions_across_holidays():
    assert calendar.previous_session(HALF_DAY) == date(2026, 11, 25)
    assert calendar.previous_session(date(2026, 11, 30)) == HALF_DAY
    assert calendar.previous_session(THANKSGIVING) == date(2026, 11, 25)
    assert calendar.next_session(date(2026, 11, 25)) == HALF_DAY


def test_it_finds_the_next_open():
    wednesday_evening = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert calendar.next_open(wednesday_evening) == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    # Strictly after: at the open itself the next open is the following session's.
    at_open = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    assert calendar.next_open(at_open) == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
    assert calendar.next_close(at_open) == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def test_it_says_when_the_market_is_open():
    close = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert calendar.is_open(datetime(2026, 11, 27, 14, 30, tzinfo=UTC))
    assert calendar.is_open(close - timedelta(seconds=1))
    assert not calendar.is_open(close)
    assert not calendar.is_open(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    assert calendar.session_at(close - timedelta(minutes=1)) == HALF_DAY
    assert calendar.session_at(close) is None
    assert calendar.last_closed_session(close) == HALF_DAY
    assert calendar.last_closed_session(close - timedelta(seconds=1)) == date(2026, 11, 25)


def test_it_reads_aware_datetimes_as_their_new_york_date():
    # 02:00 UTC on the 27th is still the evening of the 26th (Thanksgiving) in New York.
    assert not calendar.is_session(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    assert calendar.is_session(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))


def test_it_rejects_naive_datetimes_and_dates_outside_the_table():
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open(datetime(2026, 11, 27, 15, 0))
    with pytest.raises(ValueError, match="outside the XNYS calendar"):
        calendar.is_session(date(1999, 1, 4))
    with pytest.raises(ValueError, match="outside the XNYS calendar"):
        calendar.next_open(datetime(2099, 1, 1, tzinfo=UTC))


def test_it_agrees_with_exchange_calendars_for_a_whole_year():
    xnys = calendar.exchange_calendar()
    for day in (date(2026, 1, 1) + timedelta(days=n) for n in range(365)):
        assert calendar.is_session(day) == xnys.is_session(day.isoformat())
        if calendar.is_session(day):
            expected = xnys.session_open_close(day.isoformat())
            opened, closed = calendar.session_open_close(day)
            assert (opened, closed) == (expected[0].to_pydatetime(), expected[1].to_pydatetime())


def test_it_builds_the_calendar_once_per_process():
    assert calendar.exchange_calendar() is calendar.exchange_calendar()
    assert calendar.session_table() is calendar.session_table()
