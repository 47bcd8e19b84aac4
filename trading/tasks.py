"""Celery tasks for trading: the position monitor sweep (and the queued simulated entries)."""

from __future__ import annotations

from datetime import datetime

from celery import group, shared_task
from django.conf import settings
from django.utils import timezone

from config.core import metrics
from trading import monitor, services
from trading.executors.factory import executor_for
from trading.marketdata.registry import market_data_provider


def _broker_executor(owner, mode):
    return executor_for(owner=owner, mode=mode)


# One sweep at a time is enough: beat fires it every POSITION_MONITOR_SECONDS and a sweep that
# overlaps the next simply finds nothing new; expires drops a backlog after an outage.
@shared_task(name="trading.positions_monitor", ignore_result=True, expires=60)
def positions_monitor_task() -> int:
    now, market_data = timezone.now(), market_data_provider()
    # Simulated entries queued while the market was closed fill at the open, then are watched.
    services.queued_entries_fill(now=now, market_data=market_data)
    chunks = monitor.sweep_chunks(max_positions=settings.POSITION_MONITOR_CHUNK)
    if len(chunks) > 1:
        group(
            positions_monitor_chunk_task.s(owner_ids=chunk, now=now.isoformat()) for chunk in chunks
        ).apply_async()
        return 0
    with metrics.monitor_sweep_duration.time():
        report = monitor.positions_monitor_sweep(
            now=now, market_data=market_data, executor_for=_broker_executor
        )
    return len(report.exits)


# Same policy as the sweep it belongs to: a chunk that waited past the next beat is dropped,
# the next sweep covers its users.
@shared_task(name="trading.positions_monitor_chunk", ignore_result=True, expires=60)
def positions_monitor_chunk_task(*, owner_ids: list[int], now: str) -> int:
    with metrics.monitor_sweep_duration.time():
        report = monitor.positions_monitor_sweep(
            now=datetime.fromisoformat(now),
            market_data=market_data_provider(),
            executor_for=_broker_executor,
            owner_ids=owner_ids,
        )
    return len(report.exits)
