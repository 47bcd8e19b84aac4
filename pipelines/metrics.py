"""Platform-wide gauges (§20.3 "System Health") read from the database when /metrics is scraped.

They describe every process's work at once, so they are read where the truth is (PostgreSQL)
rather than counted in one process: two web processes scraped side by side report the same
values. Registered only by the web process (config/views.py), one aggregate query per scrape.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution, PipelineStatus

logger = logging.getLogger(__name__)

_HELP = {
    "system_active_pipelines": "Pipelines whose status is active",
    "system_active_users": "Users with at least one active pipeline",
    "system_executions_today": "Executions created since midnight UTC",
    "system_success_rate_24h_percent": (
        "Completed executions among those that finished (completed or failed) in the last 24 h, "
        "in percent; NaN when none finished"
    ),
}


def system_health() -> dict[str, float]:
    """The four gauges: one query over pipelines, one over recent executions."""
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    pipelines = Pipeline.objects.filter(status=PipelineStatus.ACTIVE).aggregate(
        pipelines=Count("pk"), users=Count("owner", distinct=True)
    )
    since = min(midnight, now - timedelta(hours=24))
    executions = PipelineExecution.objects.filter(created_at__gte=since).aggregate(
        today=Count("pk", filter=Q(created_at__gte=midnight)),
        completed=Count(
            "pk",
            filter=Q(status=ExecutionStatus.COMPLETED, finished_at__gte=now - timedelta(hours=24)),
        ),
        failed=Count(
            "pk",
            filter=Q(status=ExecutionStatus.FAILED, finished_at__gte=now - timedelta(hours=24)),
        ),
    )
    finished = executions["completed"] + executions["failed"]
    return {
        "system_active_pipelines": pipelines["pipelines"],
        "system_active_users": pipelines["users"],
        "system_executions_today": executions["today"],
        "system_success_rate_24h_percent": (
            100.0 * executions["completed"] / finished if finished else math.nan
        ),
    }


class SystemHealthCollector:
    """A prometheus_client collector: the gauges above, fresh on every scrape."""

    def describe(self):
        # Lets the registry learn the names without a database query at registration.
        return [GaugeMetricFamily(name, help_text) for name, help_text in _HELP.items()]

    def collect(self):
        try:
            values = system_health()
        except DatabaseError as error:
            # A scrape while the database is down still serves the process's own metrics.
            logger.warning("metrics: system gauges unavailable (%s)", error)
            return
        for name, help_text in _HELP.items():
            yield GaugeMetricFamily(name, help_text, value=values[name])


_collector: SystemHealthCollector | None = None
_register_lock = threading.Lock()


def system_health_collector_register(registry=REGISTRY) -> None:
    """Register the collector once per process (the web process's /metrics; two first scrapes
    at once register it once)."""
    global _collector
    if _collector is not None:
        return
    with _register_lock:
        if _collector is None:
            collector = SystemHealthCollector()
            registry.register(collector)
            _collector = collector
