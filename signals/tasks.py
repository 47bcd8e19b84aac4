"""Celery tasks for signals: the beat sweep that keeps the signal log within its retention."""

from __future__ import annotations

from celery import shared_task

from signals import services


# Idempotent and cheap to repeat, so no retries: the next beat run finishes what one missed.
@shared_task(name="signals.signal_log_cleanup", ignore_result=True)
def signal_log_cleanup_task() -> int:
    return services.signal_log_cleanup()
