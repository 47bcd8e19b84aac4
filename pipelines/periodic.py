"""A scheduled pipeline's django-celery-beat PeriodicTask: created when it is activated, changed
when it is edited, removed when it is paused, stopped or deleted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
)

from pipelines.models import Pipeline, PipelineStatus, RunMode
from pipelines.schedules import ScheduleConfig, schedule_of

TASK = "pipelines.scheduled_run"


def task_name(pipeline: Pipeline) -> str:
    return f"pipeline {pipeline.pk}"


def _cron_days(active_days: list[int]) -> str:
    # Ours: 0 = Monday … 6 = Sunday; cron: 0 = Sunday … 6 = Saturday.
    return ",".join(str((day + 1) % 7) for day in sorted(active_days))


def _crontab(schedule: ScheduleConfig) -> CrontabSchedule:
    if schedule.schedule_type == "cron":
        minute, hour, day_of_month, month, day_of_week = schedule.cron_expression.split()
    else:  # time_window: at the window's start on active days
        hour, minute = (str(int(part)) for part in schedule.start_time.split(":"))
        day_of_month, month, day_of_week = "*", "*", _cron_days(schedule.active_days)
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone=schedule.timezone,
    )
    return crontab


def next_run(pipeline: Pipeline, now: datetime) -> datetime | None:
    """When the schedule fires next (shown on the pipeline page)."""
    schedule = schedule_of(pipeline)
    if schedule.schedule_type == "market_open":
        return schedule.next_market_open_run(now)
    if schedule.schedule_type == "interval":
        return now + timedelta(minutes=schedule.interval_minutes)
    return next_cron_time(_crontab(schedule).schedule, now.astimezone(schedule.zone))


def next_cron_time(crontab, after: datetime) -> datetime | None:
    """The first minute strictly after `after` (local, aware) that the crontab matches."""
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for day_offset in range(0, 400):
        day = (start + timedelta(days=day_offset)).date()
        if day.month not in crontab.month_of_year:
            continue
        in_dom = day.day in crontab.day_of_month
        in_dow = (day.isoweekday() % 7) in crontab.day_of_week
        if not (in_dom and in_dow):
            continue
        for hour in sorted(crontab.hour):
            for minute in sorted(crontab.minute):
                candidate = datetime(
                    day.year, day.month, day.day, hour, minute, tzinfo=after.tzinfo
                )
                if candidate >= start:
                    return candidate.astimezone(UTC)
    return None


def periodic_task_sync(*, pipeline: Pipeline, now: datetime | None = None) -> PeriodicTask | None:
    """Make the PeriodicTask match the pipeline (or remove it when it should not exist)."""
    now = now or timezone.now()
    if pipeline.run_mode != RunMode.RUN_SCHEDULED or pipeline.status != PipelineStatus.ACTIVE:
        periodic_task_remove(pipeline=pipeline)
        return None
    schedule = schedule_of(pipeline)
    kinds = {"interval": None, "crontab": None, "clocked": None}
    one_off = False
    if schedule.schedule_type == "interval":
        kinds["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=schedule.interval_minutes, period=IntervalSchedule.MINUTES
        )
    elif schedule.schedule_type == "market_open":
        # The next open from the exchange calendar (holidays, early closes), re-armed after each
        # run: a crontab cannot know that Thanksgiving has no open.
        when = schedule.next_market_open_run(now)
        if when is None:
            periodic_task_remove(pipeline=pipeline)
            return None
        kinds["clocked"], _ = ClockedSchedule.objects.get_or_create(clocked_time=when)
        one_off = True
    else:
        kinds["crontab"] = _crontab(schedule)
    task, _ = PeriodicTask.objects.update_or_create(
        name=task_name(pipeline),
        defaults={
            "task": TASK,
            "args": json.dumps([str(pipeline.pk)]),
            "interval": kinds["interval"],
            "crontab": kinds["crontab"],
            "clocked": kinds["clocked"],
            "one_off": one_off,
            "enabled": True,
            "description": f"Scheduled runs of “{pipeline.name}”",
        },
    )
    Pipeline.objects.filter(pk=pipeline.pk).update(next_scheduled_at=next_run(pipeline, now))
    return task


def periodic_task_remove(*, pipeline: Pipeline) -> None:
    PeriodicTask.objects.filter(name=task_name(pipeline)).delete()
    Pipeline.objects.filter(pk=pipeline.pk).update(next_scheduled_at=None)
