"""Run modes through a controlled clock: windows, daily limits, end of day, schedules, on-signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask

from accounts.models import Notification
from config.celery import app as celery_app
from pipelines import engine, lifecycle, periodic, runmodes, services
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import ExecutionStatus, PipelineExecution
from pipelines.schedules import schedule_validate
from trading.marketdata.registry import market_data_provider
from trading.models import EODAction, Position, Trade
from trading.monitor import positions_monitor_sweep

SIMULATION = {
    "slippage_pct": "0.1",
    "commission_per_share": "0.005",
    "simulate_partial_fills": False,
    "simulate_rejections": False,
    "initial_balance": "100000",
}


def ny(year, month, day, hour, minute=0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("America/New_York")).astimezone(
        UTC
    )


def run_pending(now: datetime) -> int:
    """A worker's turn: resume due waiting runs, then run every pending one in-process."""
    services.executions_resume_due(now=now)
    ran = 0
    for execution in PipelineExecution.objects.filter(status=ExecutionStatus.PENDING):
        engine.execution_run(execution_id=execution.pk, task_id=f"t-{execution.pk}")
        ran += 1
    return ran


# --- Validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"schedule_type": "cron", "cron_expression": "61 * * * *"}, "schedule.cron_expression"),
        ({"schedule_type": "cron"}, "schedule"),
        ({"start_time": "9:35", "end_time": "15:30"}, "schedule.start_time"),
        ({"start_time": "09:35", "end_time": "25:00"}, "schedule.end_time"),
        ({"timezone": "Mars/Base"}, "schedule.timezone"),
        ({"active_days": [7]}, "schedule.active_days"),
        ({"active_days": []}, "schedule.active_days"),
        ({"max_trades_per_day": 0}, "schedule.max_trades_per_day"),
        ({"schedule_type": "interval"}, "schedule"),
        ({"surprise": 1}, "schedule.surprise"),
    ],
)
def test_bad_schedules_name_the_field(schedule, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        schedule_validate(schedule)
    assert field in error.value.message_dict


def test_a_window_across_midnight_is_valid_and_understood():
    from pipelines.schedules import ScheduleConfig

    config = ScheduleConfig.model_validate(
        schedule_validate(
            {"start_time": "22:00", "end_time": "02:00", "active_days": [0, 1, 2, 3, 4, 5, 6]}
        )
    )
    assert config.is_within_window(ny(2026, 11, 24, 23, 30))
    assert config.is_within_window(ny(2026, 11, 25, 1, 30))
    assert not config.is_within_window(ny(2026, 11, 25, 3, 0))
    assert config.window_end(ny(2026, 11, 24, 23, 30)) == ny(2026, 11, 25, 2, 0)


@pytest.mark.django_db
def test_the_api_rejects_a_bad_schedule_naming_the_field(api):
    from pipelines.tests.factories import pipeline_payload

    response = api.post(
        "/api/v1/pipelines",
        pipeline_payload(
            run_mode="run_scheduled",
            schedule={"schedule_type": "cron", "cron_expression": "every day"},
        ),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "schedule.cron_expression"]


# --- Scheduled pipelines ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_periodic_task_follows_the_pipeline(api, owner):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    url = f"/api/v1/pipelines/{pipeline.pk}"
    api.patch(
        url,
        {
            "run_mode": "run_scheduled",
            "schedule": {"schedule_type": "cron", "cron_expression": "0 10 * * 1-5"},
        },
    )
    assert not PeriodicTask.objects.filter(name=periodic.task_name(pipeline)).exists()

    assert api.post(f"{url}/activate").status_code == 200
    task = PeriodicTask.objects.get(name=periodic.task_name(pipeline))
    assert task.task == "pipelines.scheduled_run"
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("10", "0", "1-5")
    assert str(task.crontab.timezone) == "America/New_York"

    api.patch(url, {"schedule": {"schedule_type": "interval", "interval_minutes": 30}})
    task.refresh_from_db()
    assert task.crontab is None
    assert task.interval.every == 30

    assert api.post(f"{url}/pause").status_code == 200
    assert not PeriodicTask.objects.filter(name=periodic.task_name(pipeline)).exists()

    api.post(f"{url}/activate")
    assert PeriodicTask.objects.filter(name=periodic.task_name(pipeline)).exists()
    assert api.delete(url).status_code == 204
    assert not PeriodicTask.objects.filter(name=periodic.task_name(pipeline)).exists()


@pytest.mark.django_db
def test_market_open_skips_thanksgiving_and_runs_at_the_open_on_the_early_close_day(owner):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    services.pipeline_update(
        pipeline=pipeline,
        run_mode="run_scheduled",
        schedule={"schedule_type": "market_open", "offset_minutes": 5},
    )
    wednesday_after_open = ny(2026, 11, 25, 10, 0)
    lifecycle.pipeline_activate(pipeline=pipeline, now=wednesday_after_open)
    task = PeriodicTask.objects.get(name=periodic.task_name(pipeline))
    # Thursday 26 Nov is Thanksgiving: the next run is Friday's open (early close 13:00) + 5 min.
    assert task.clocked.clocked_time == ny(2026, 11, 27, 9, 35)
    assert task.one_off is True
    pipeline.refresh_from_db()
    assert pipeline.next_scheduled_at == ny(2026, 11, 27, 9, 35)

    # If it fired on the holiday anyway, nothing would start.
    assert runmodes.scheduled_run(pipeline_id=pipeline.pk, now=ny(2026, 11, 26, 9, 35)) is None
    pipeline.refresh_from_db()
    assert "not a trading day" in pipeline.status_reason

    execution = runmodes.scheduled_run(pipeline_id=pipeline.pk, now=ny(2026, 11, 27, 9, 35))
    assert execution is not None
    assert execution.trigger_source == "schedule"
    # Re-armed for the next session: Monday 30 Nov, 09:35.
    task.refresh_from_db()
    assert task.clocked.clocked_time == ny(2026, 11, 30, 9, 35)


# --- Continuous pipelines through a trading day ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_continuous_pipeline_keeps_to_its_window_its_limit_and_flattens_at_the_end(owner):
    celery_app.control.purge()
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    services.pipeline_update(
        pipeline=pipeline,
        run_mode="run_continuous",
        mode_config=SIMULATION,
        schedule={
            "start_time": "10:00",
            "end_time": "11:00",
            "cycle_interval_minutes": 5,
            "max_trades_per_day": 1,
            "flatten_positions_at_end": True,
            "stop_pipeline_at_end": False,
        },
    )
    provider = market_data_provider()
    with time_machine.travel(ny(2026, 11, 24, 9, 50), tick=False) as traveller:
        lifecycle.pipeline_activate(pipeline=pipeline)
        pipeline.refresh_from_db()
        assert "Outside its trading window" in pipeline.status_reason
        assert not PipelineExecution.objects.exists()

        moment = ny(2026, 11, 24, 9, 50)
        while moment < ny(2026, 11, 24, 11, 10):
            traveller.move_to(moment)
            runmodes.windows_sweep(now=moment)
            run_pending(moment)
            positions_monitor_sweep(now=moment, market_data=provider, executor_for=None)
            moment += timedelta(minutes=1)

    executions = list(PipelineExecution.objects.filter(pipeline=pipeline).order_by("created_at"))
    assert executions, "the window opened at 10:00, so a cycle started"
    assert all(
        ny(2026, 11, 24, 10, 0) <= e.created_at < ny(2026, 11, 24, 11, 0) for e in executions
    )
    trades = list(Trade.objects.filter(pipeline_id=pipeline.pk).order_by("opened_at"))
    assert trades, "a cycle opened a position"
    # The limit is checked after each trade: once reached, no new cycle started.
    first_trade_at = trades[0].opened_at
    assert not [e for e in executions if e.created_at > first_trade_at]
    limit = Notification.objects.get(owner=owner, kind__startswith=f"limit:{pipeline.pk}")
    assert "max_trades_per_day" in limit.message
    # 11:00: the window ended, positions were flattened and the action recorded.
    action = EODAction.objects.get(pipeline_id=pipeline.pk)
    assert action.positions_closed == len(
        {t.symbol for t in trades if t.close_reason == "end_of_day"}
    )
    assert not Position.objects.filter(pipeline_id=pipeline.pk, status="open").exists()
    assert Notification.objects.filter(owner=owner, kind__startswith=f"eod:{pipeline.pk}").exists()


# --- On-signal pipelines: one position at a time ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_on_signal_pipeline_waits_for_its_position_and_only_a_signal_starts_it(owner):
    from pipelines.models import TriggerSource
    from trading.executors.factory import executor_for_position
    from trading.services import position_emergency_close

    celery_app.control.purge()
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    services.pipeline_update(pipeline=pipeline, run_mode="run_on_signal", mode_config=SIMULATION)
    start = ny(2026, 11, 24, 10, 0)
    with time_machine.travel(start, tick=False) as traveller:
        lifecycle.pipeline_activate(pipeline=pipeline)
        # Activation starts nothing: signals start an on-signal pipeline's runs.
        assert not PipelineExecution.objects.filter(pipeline=pipeline).exists()
        services.execution_start(
            pipeline=pipeline, source=TriggerSource.SIGNAL, detail={"symbols": pipeline.symbols}
        )
        run_pending(start)
        assert Position.objects.filter(pipeline_id=pipeline.pk, status="open").exists()
        pipeline.refresh_from_db()
        assert runmodes.start_blocker(pipeline=pipeline, now=start).startswith("Waiting for its")
        # The cycle interval passes; nothing restarts on its own.
        traveller.move_to(start + timedelta(minutes=30))
        run_pending(start + timedelta(minutes=30))
        assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1

        for position in Position.objects.filter(pipeline_id=pipeline.pk, status="open"):
            position_emergency_close(
                owner=owner, position=position, reason="test", executor_for=executor_for_position
            )
        # Flat again: free to start on the next signal, and no run was started by the close.
        pipeline.refresh_from_db()
        assert runmodes.start_blocker(pipeline=pipeline, now=start + timedelta(minutes=30)) is None
        assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1
