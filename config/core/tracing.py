"""OpenTelemetry traces: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, then every process
(web, worker, dispatcher, generators) exports over OTLP/HTTP with Django, Celery, psycopg, Redis
and outgoing HTTP (requests, httpx, urllib3: OpenAI, Alpaca, Finnhub, Stripe, Apprise)
instrumented, and one trace follows a signal from its publication through the Redis stream
(a `traceparent` field), the dispatcher, the Celery message (the Celery instrumentation's
headers), the execution and each agent step to the broker's HTTP call.

CrewAI's own telemetry stays off through CREWAI_DISABLE_TELEMETRY (settings), which it checks
itself and which does not touch our SDK: OTEL_SDK_DISABLED, which would turn off every
OpenTelemetry provider in the process (ours included), is only defaulted to true by settings
while no endpoint is configured.
"""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

logger = logging.getLogger(__name__)

_tracer = trace.get_tracer("tradecrew")
_configured_service: str | None = None


def tracing_enabled() -> bool:
    return _configured_service is not None


def tracing_configure(*, service: str) -> bool:
    """Install the exporter and the instrumentations once per process; False when tracing is
    off (no endpoint, or OTEL_SDK_DISABLED=true set on purpose)."""
    global _configured_service
    if _configured_service is not None:
        return True
    from django.conf import settings

    settings.DEBUG  # noqa: B018 - loads the settings, and with them .env, into the environment
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not endpoint:
        return False
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        logger.warning(
            "tracing: OTEL_EXPORTER_OTLP_ENDPOINT is set but OTEL_SDK_DISABLED=true; no traces"
        )
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"tradecrew-{service}"}
    )
    provider = TracerProvider(resource=resource)
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and the standard OTEL_* options) itself.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _instrument()
    _configured_service = service
    logger.info("tracing: exporting %s spans to %s", service, endpoint)
    return True


def _instrument() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    # The request-id middleware and the metrics stay; Django's spans wrap them.
    DjangoInstrumentor().instrument(is_sql_commentor_enabled=False)
    CeleryInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    RequestsInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    URLLib3Instrumentor().instrument()


def tracing_flush(timeout_millis: int = 5000) -> None:
    """Export what is buffered (a process about to exit)."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush(timeout_millis)


# --- propagation through the signal bus -------------------------------------------------------


def trace_headers() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`, maybe `tracestate`); empty when
    nothing is being traced."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def span_continuing(name: str, headers: dict[str, str] | None, **attributes: Any):
    """A consumer span that continues the trace `headers` carry (from `trace_headers` on the
    publishing side); a no-op context when tracing is off."""
    if not tracing_enabled():
        return nullcontext()
    parent = propagate.extract(headers or {})
    return _ContinuingSpan(name, parent, attributes)


class _ContinuingSpan(AbstractContextManager):
    def __init__(self, name: str, parent, attributes: dict[str, Any]):
        self._span = _tracer.start_span(
            name, context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes
        )
        self._token = None

    def __enter__(self):
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            self._span.record_exception(exc)
            self._span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
        self._span.end()
        otel_context.detach(self._token)
        return False


def span(name: str, **attributes: Any):
    """A child span of the current one; a no-op context when tracing is off."""
    if not tracing_enabled():
        return nullcontext()
    return _tracer.start_as_current_span(name, attributes=attributes)


# --- the engine's steps -------------------------------------------------------------------------


def agent_process(agent, agent_type: str, state, ctx, *, node_id: str = "") -> Any:
    """Run one agent's `process`, inside a span named after its type when tracing is on."""
    if not tracing_enabled():
        return agent.process(state, ctx)
    with _tracer.start_as_current_span(
        f"agent {agent_type}",
        attributes={"tradecrew.agent_type": agent_type, "tradecrew.node": node_id},
    ):
        return agent.process(state, ctx)


# --- logs -------------------------------------------------------------------------------------


class TraceIdFilter(logging.Filter):
    """Stamps `trace_id` (32 hex digits, or "-") on every record, for the structured logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            context = trace.get_current_span().get_span_context()
            record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        return True
