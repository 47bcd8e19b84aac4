"""Celery tasks for pipelines: run an execution, and the beat sweeps that resume and reap."""

from __future__ import annotations

from celery import shared_task

from pipelines import engine, services


# acks_late + reject_on_worker_lost: if the worker dies mid-run the message is redelivered with
# the same task id, and the engine's lease lets that redelivery (and only it) resume the run
# after the last finished step. No automatic retries: a failed step fails the execution.
@shared_task(
    bind=True,
    name="pipelines.execution_run",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,
)
def execution_run_task(self, execution_id: str) -> str | None:
    return engine.execution_run(execution_id=execution_id, task_id=self.request.id or "eager")


@shared_task(name="pipelines.executions_resume_due", ignore_result=True)
def executions_resume_due_task() -> int:
    return services.executions_resume_due()


@shared_task(name="pipelines.executions_reap_stale", ignore_result=True)
def executions_reap_stale_task() -> int:
    return services.executions_reap_stale()


@shared_task(name="pipelines.scheduled_run", ignore_result=True)
def scheduled_run_task(pipeline_id: str) -> str | None:
    from pipelines.runmodes import scheduled_run

    execution = scheduled_run(pipeline_id=pipeline_id)
    return str(execution.pk) if execution else None


@shared_task(name="pipelines.windows_check", ignore_result=True)
def windows_check_task() -> dict:
    from pipelines.runmodes import windows_sweep

    return windows_sweep()


# Backtests write nothing until their last step, so a redelivery after a lost worker simply
# finds the row claimed (running) and stops; the beat reaper is not needed for them.
@shared_task(name="pipelines.backtest_run", acks_late=True, ignore_result=True)
def backtest_run_task(backtest_id: str) -> str | None:
    from pipelines.backtest.services import backtest_run

    return backtest_run(backtest_id=backtest_id)


@shared_task(name="pipelines.backtest_chunk", acks_late=True)
def backtest_chunk_task(backtest_ids: list[str]) -> list[str | None]:
    """One chunk of a sweep: its backtests one after another in this worker."""
    from pipelines.backtest.sweep_services import backtest_chunk_run

    return backtest_chunk_run(backtest_ids=backtest_ids)


@shared_task(name="pipelines.daily_summaries", ignore_result=True)
def daily_summaries_task() -> int:
    from pipelines.notifications import daily_summaries_send

    return daily_summaries_send()


@shared_task(name="pipelines.backtest_walkforward", acks_late=True, ignore_result=True)
def walkforward_run_task(walkforward_id: str) -> str | None:
    """A walk-forward analysis in one worker; like a backtest it writes its results once, so a
    redelivery finds the row claimed and stops."""
    from pipelines.backtest.walkforward_services import walkforward_run

    return walkforward_run(walkforward_id=walkforward_id)
