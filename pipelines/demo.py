"""The demo account's history: a few past sessions of the day-trading template run in
SIMULATION through the real engine, monitor and end-of-day flatten, so every page (dashboard,
monitor, positions, trades, reports) has something to show on a fresh install."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from pipelines import engine, services
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution
from trading import calendar
from trading.clock import ManualClock
from trading.executors.base import ExecutionError
from trading.executors.factory import executor_for
from trading.marketdata.registry import market_data_provider
from trading.monitor import positions_monitor_sweep
from trading.services import pipeline_flatten

HISTORY_SESSIONS = 3
# Runs a session: 35 minutes after the open, then every hour and a half.
RUN_MINUTES_AFTER_OPEN = (35, 125, 215)
MONITOR_EVERY = timedelta(minutes=30)
DEMO_TEMPLATE = "day_trading_5m"


def demo_history_seed(*, owner: User, sessions: int = HISTORY_SESSIONS) -> int:
    """Replay the last `sessions` closed sessions for the demo pipeline (once: an account that
    already has runs is left alone). Returns how many runs were written."""
    if PipelineExecution.objects.filter(owner=owner).exists():
        return 0
    pipeline = (
        Pipeline.objects.filter(owner=owner, template_key=DEMO_TEMPLATE).order_by("created_at")
    ).first()
    if pipeline is None:
        pipeline, _ = pipeline_create_from_blueprint(owner=owner, key=DEMO_TEMPLATE)
    # A replay must fill every order it places: rejections and partial fills are for live demos.
    pipeline.mode_config = {
        **pipeline.mode_config,
        "simulate_rejections": False,
        "simulate_partial_fills": False,
    }
    pipeline.save(update_fields=["mode_config", "updated_at"])
    days = _last_sessions(sessions)
    runs = 0
    for day in days:
        runs += _replay_session(pipeline, day)
    return runs


def _no_broker(owner, mode):
    raise ExecutionError("the demo history trades in SIMULATION only")


def _last_sessions(count: int) -> list:
    day = calendar.last_closed_session(timezone.now())
    days = [day]
    while len(days) < count:
        days.insert(0, calendar.previous_session(days[0]))
    return days


def _replay_session(pipeline: Pipeline, day) -> int:
    market_open, market_close = calendar.session_open_close(day)
    market_data = market_data_provider()
    clock = ManualClock(market_open)

    def simulated(position):
        return executor_for(
            owner=pipeline.owner,
            mode=position.trading_mode,
            mode_config={**(position.fill_costs or {}), "simulate_rejections": False},
            clock=clock,
            market_data=market_data,
        )

    def sweep_until(moment):
        while clock.now() + MONITOR_EVERY <= moment:
            clock.set(clock.now() + MONITOR_EVERY)
            positions_monitor_sweep(
                now=clock.now(),
                market_data=market_data,
                executor_for=_no_broker,
                owner=pipeline.owner,
            )

    runs = 0
    for minutes in RUN_MINUTES_AFTER_OPEN:
        start = market_open + timedelta(minutes=minutes)
        if start >= market_close - timedelta(minutes=10):  # a half day closes early
            break
        sweep_until(start)
        clock.set(start)
        execution = services.execution_start(pipeline=pipeline, enqueue=False, now=start)
        status = engine.execution_run(
            execution_id=execution.pk, task_id="demo-history", clock=clock
        )
        runs += 1
        if status == ExecutionStatus.WAITING_TRIGGER:
            services.execution_stop(execution=execution, reason="Demo history: session over.")
    sweep_until(market_close - timedelta(minutes=5))
    clock.set(market_close - timedelta(minutes=5))
    pipeline_flatten(
        owner=pipeline.owner,
        pipeline_id=pipeline.pk,
        reason="Demo history: end of the session",
        executor_for=simulated,
        now=clock.now(),
    )
    return runs
