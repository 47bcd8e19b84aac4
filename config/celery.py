"""The Celery application: configured from Django settings (CELERY_*), tasks found in each app."""

import os

from celery import Celery
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tradecrew")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _serve_worker_metrics(**_kwargs) -> None:
    """The worker's own /metrics (runs, steps, orders, models) on WORKER_METRICS_PORT (§20.2)."""
    from django.conf import settings

    from signals.metrics import metrics_serve

    metrics_serve(port=settings.WORKER_METRICS_PORT, addr=settings.SIGNAL_METRICS_ADDR)


@worker_init.connect
def _trace_worker(**_kwargs) -> None:
    """Traces from the worker when OTEL_EXPORTER_OTLP_ENDPOINT is set (config/core/tracing.py)."""
    from config.core.tracing import tracing_configure

    tracing_configure(service="worker")
