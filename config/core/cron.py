"""Cron expressions (5 fields), parsed with Celery's crontab parser: what a pipeline's schedule
checks and the cost estimator counts runs with."""

from __future__ import annotations

from celery.schedules import ParseException, crontab


def cron_schedule(expression: str) -> crontab:
    """The crontab of a 5-field expression (Sunday may be written 7, as classic cron allows);
    ValueError naming what is wrong."""
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError("needs 5 fields: minute hour day-of-month month day-of-week")
    minute, hour, day_of_month, month, day_of_week = parts
    day_of_week = ",".join("0" if part == "7" else part for part in day_of_week.split(","))
    try:
        return crontab(minute, hour, day_of_week, day_of_month, month)
    except (ValueError, ParseException) as error:
        raise ValueError(str(error)) from None
