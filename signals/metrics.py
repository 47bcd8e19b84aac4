"""Prometheus metrics of the signal system (§20.3), in the default registry.

The web process exposes them at /metrics (django-prometheus); the generators and dispatcher
processes serve their own with `metrics_serve` on a port of their own (§20.2).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

signals_generated = Counter("signals_generated", "Signals made by the generators", ["signal_type"])
signal_publish_success = Counter(
    "signal_publish_success", "Signals appended to the bus", ["source"]
)
signal_publish_failure = Counter(
    "signal_publish_failure", "Signals that could not be appended to the bus", ["source"]
)
signals_dispatched = Counter(
    "signals_dispatched",
    "Bus messages the dispatcher finished: processed, duplicate, replayed or malformed",
    ["result"],
)
signals_dead_lettered = Counter(
    "signals_dead_lettered",
    "Bus messages moved to the dead-letter stream: malformed, or failed too many times",
    ["reason"],
)
dead_letter_size = Gauge("signal_dead_letter_size", "Entries in the dead-letter stream")
pipelines_matched = Counter("pipelines_matched", "Pipelines a signal matched")
signal_executions_started = Counter(
    "signal_executions_started", "Executions started because a signal matched"
)
pipeline_cache_size = Gauge(
    "pipeline_cache_size", "Active signal-driven pipelines in the dispatcher's index"
)
signal_match_latency = Histogram(
    "signal_match_latency_seconds",
    "Time to match one signal against the index",
    buckets=(1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 5e-3),
)
signal_dispatch_latency = Histogram(
    "signal_dispatch_latency_seconds",
    "From publish to executions committed and enqueued (and the message acked)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)


def metrics_serve(*, port: int, addr: str) -> bool:
    """Serve /metrics for a non-web process; port 0 turns it off. A port already taken (a
    second dispatcher on the same machine) is logged, not fatal."""
    if not port:
        return False
    try:
        start_http_server(port, addr=addr)
    except OSError as error:
        logger.warning(
            "metrics: cannot listen on %s:%s (%s); continuing without", addr, port, error
        )
        return False
    logger.info("metrics: serving /metrics on %s:%s", addr, port)
    return True
