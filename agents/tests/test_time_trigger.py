"""Time trigger: met inside its window, else waiting for the exact next scheduled moment."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agents.errors import AgentError, TriggerNotMet
from agents.registry import validate_node_config
from agents.tests.factories import build_agent, make_context, make_state

NEW_YORK = ZoneInfo("America/New_York")


def ny(year, month, day, hour, minute) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def run(config: dict, now: datetime):
    state = make_state(["AAPL"])
    return build_agent("time_trigger", config).process(state, make_context(now=now))


def waiting(config: dict, now: datetime) -> TriggerNotMet:
    with pytest.raises(TriggerNotMet) as raised:
        run(config, now)
    return raised.value


def test_it_fills_schedule_defaults():
    config, errors = validate_node_config("time_trigger", {})

    assert errors == []
    assert config["schedule"] == {
        "type": "market_hours",
        "market": "US",
        "offset_minutes": 5,
        "time": "09:35",
        "timezone": "America/New_York",
        "cron": "0 10 * * 1-5",
        "active_days": [0, 1, 2, 3, 4],
        "trading_days_only": True,
        "window_minutes": 30,
    }


def test_it_rejects_bad_schedule_values():
    _, errors = validate_node_config(
        "time_trigger",
        {"schedule": {"type": "hourly", "time": "25:00", "offset_minutes": -1}},
    )

    assert {error.field for error in errors} == {
        "schedule.type",
        "schedule.time",
        "schedule.offset_minutes",
    }


def test_it_is_met_five_minutes_after_the_open():
    state = run({}, ny(2026, 11, 24, 9, 40))

    assert state.trigger.met is True
    assert state.trigger.agent_type == "time_trigger"
    assert state.trigger.details["scheduled_at"] == "2026-11-24T14:35:00+00:00"
    # Market hours: met until the close, so a continuous pipeline keeps running all session.
    assert state.trigger.details["window_ends_at"] == "2026-11-24T21:00:00+00:00"
    assert state.trigger.details["minutes_late"] == 5.0
    assert state.symbols == ["AAPL"]


def test_it_waits_for_todays_open_before_the_bell():
    waited = waiting({}, ny(2026, 11, 24, 8, 0))

    assert waited.next_check_at == datetime(2026, 11, 24, 14, 35, tzinfo=UTC)
    assert "09:35" in waited.reason


def test_it_skips_thanksgiving_after_the_close():
    waited = waiting({}, ny(2026, 11, 25, 16, 1))

    # Thursday 26 Nov is a holiday: the next moment is Friday's open (09:30) + 5 minutes.
    assert waited.next_check_at == ny(2026, 11, 27, 9, 35)


def test_it_never_fires_after_an_early_close():
    schedule = {"type": "market_hours", "offset_minutes": 240}

    # 09:30 + 240 min = 13:30, after Friday 27 Nov's 13:00 close: Monday is next.
    waited = waiting({"schedule": schedule}, ny(2026, 11, 27, 9, 0))

    assert waited.next_check_at == ny(2026, 11, 30, 13, 30)


def test_its_window_ends_at_an_early_close():
    schedule = {"type": "market_hours", "offset_minutes": 200, "window_minutes": 30}

    met = run({"schedule": schedule}, ny(2026, 11, 27, 12, 59))
    waited = waiting({"schedule": schedule}, ny(2026, 11, 27, 13, 0))

    assert met.trigger.details["window_ends_at"] == "2026-11-27T18:00:00+00:00"
    assert waited.next_check_at == ny(2026, 11, 30, 12, 50)


def test_it_honours_active_days():
    schedule = {"type": "market_hours", "active_days": [0]}

    waited = waiting({"schedule": schedule}, ny(2026, 11, 24, 9, 40))

    assert waited.next_check_at == ny(2026, 11, 30, 9, 35)


def test_it_fires_at_a_specific_time_in_another_timezone_on_a_weekend():
    schedule = {
        "type": "specific_time",
        "time": "08:15",
        "timezone": "Europe/London",
        "active_days": [5],
        "trading_days_only": False,
    }
    london = ZoneInfo("Europe/London")

    waited = waiting({"schedule": schedule}, datetime(2026, 11, 27, 12, 0, tzinfo=london))
    met = run({"schedule": schedule}, datetime(2026, 11, 28, 8, 20, tzinfo=london))

    assert waited.next_check_at == datetime(2026, 11, 28, 8, 15, tzinfo=london)
    assert met.trigger.met is True


def test_it_follows_a_cron_expression():
    schedule = {"type": "cron", "cron": "*/15 10-15 * * 1-5", "window_minutes": 5}

    met = run({"schedule": schedule}, ny(2026, 11, 24, 10, 17))
    waited = waiting({"schedule": schedule}, ny(2026, 11, 24, 10, 21))
    overnight = waiting({"schedule": schedule}, ny(2026, 11, 25, 15, 50))

    assert met.trigger.details["scheduled_at"] == "2026-11-24T15:15:00+00:00"
    assert waited.next_check_at == ny(2026, 11, 24, 10, 30)
    assert overnight.next_check_at == ny(2026, 11, 27, 10, 0)


def test_it_reads_sunday_as_seven_in_cron():
    schedule = {
        "type": "cron",
        "cron": "0 9 * * 7",
        "active_days": [6],
        "trading_days_only": False,
    }

    waited = waiting({"schedule": schedule}, ny(2026, 11, 24, 12, 0))

    assert waited.next_check_at == ny(2026, 11, 29, 9, 0)


def test_it_leaves_the_state_alone_while_waiting():
    state = make_state(["AAPL", "MSFT"])

    with pytest.raises(TriggerNotMet):
        build_agent("time_trigger").process(state, make_context(now=ny(2026, 11, 24, 8, 0)))

    assert state.trigger is None
    assert state.symbols == ["AAPL", "MSFT"]
    assert state.warnings == []


def test_it_explains_a_schedule_it_cannot_follow():
    schedule = {"type": "cron", "cron": "0 10 * * 6", "trading_days_only": True}
    with pytest.raises(AgentError, match="never fires"):
        run({"schedule": schedule}, ny(2026, 11, 24, 8, 0))


@pytest.mark.parametrize(
    ("schedule", "field", "message"),
    [
        ({"type": "cron", "cron": "every day"}, "schedule.cron", "needs 5 fields"),
        ({"type": "cron", "cron": "61 * * * *"}, "schedule.cron", "invalid cron expression"),
        (
            {"type": "specific_time", "timezone": "Mars/Olympus"},
            "schedule.timezone",
            "not an IANA time zone",
        ),
    ],
)
def test_it_refuses_a_schedule_it_cannot_parse_when_the_graph_is_checked(schedule, field, message):
    _, errors = validate_node_config("time_trigger", {"schedule": schedule})
    assert [e.field for e in errors] == [field]
    assert message in errors[0].message


def test_its_summary_names_the_moment():
    trigger = build_agent("time_trigger")
    state = trigger.process(make_state(["AAPL"]), make_context(now=ny(2026, 11, 24, 9, 40)))

    assert trigger.summarize(state) == (
        "Met: 5 min after the NYSE open (Tue 2026-11-24 09:35 America/New_York)"
    )
