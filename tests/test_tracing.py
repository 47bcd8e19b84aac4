"""OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT pointed at a loopback OTLP/HTTP receiver, a
signal-started run is one connected trace — the signal's publication, the dispatcher process,
the Celery hop, the worker's execution, a span per agent step, and the broker's HTTP call — and
the logs carry its trace id."""

from __future__ import annotations

import logging
import os
import signal as os_signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agents.builtin.pipeline_manager import PIPELINE_MANAGER_TYPE
from config.celery import app as celery_app
from config.core.tracing import TraceIdFilter, span_continuing, trace_headers
from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution
from pipelines.tests.test_paper_trading import GRAPH, KEY, SECRET, paper_pipeline
from signals.bus import RedisStreamBus
from signals.tests.factories import ScannerFactory, signal_body
from tests.fakes.alpaca import FakeAlpaca
from tests.fakes.otlp import FakeOTLPReceiver

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ("TSLA", "JPM")


@pytest.fixture
def receiver():
    with FakeOTLPReceiver() as server:
        yield server


@pytest.fixture
def alpaca(settings):
    with FakeAlpaca(api_key=KEY, secret_key=SECRET) as server:
        settings.ALPACA_PAPER_URL = server.url
        yield server


@pytest.fixture
def bus():
    signal_bus = RedisStreamBus()
    signal_bus.client.delete(signal_bus.stream)
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("executions")
    yield signal_bus
    signal_bus.client.delete(signal_bus.stream)


def _env(receiver: FakeOTLPReceiver, alpaca: FakeAlpaca) -> dict[str, str]:
    database = settings.DATABASES["default"]
    return {
        **os.environ,
        "DATABASE_URL": f"postgresql://{database['USER']}@/{database['NAME']}?host={database['HOST']}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SDK_DISABLED": "false",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "ALPACA_PAPER_URL": alpaca.url,
        "WORKER_METRICS_PORT": "0",
        "SIGNAL_DISPATCHER_METRICS_PORT": "0",
    }


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(os_signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for(condition, *, timeout: float = 120.0, what=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what()}"
        time.sleep(0.2)


def _signal_driven_paper_pipeline(owner) -> Pipeline:
    pipeline = paper_pipeline(owner, symbols=SYMBOLS)
    Pipeline.objects.filter(pk=pipeline.pk).update(
        run_mode="run_on_signal",
        status="active",
        scanner=ScannerFactory(owner=owner, tickers=list(SYMBOLS)),
        signal_subscriptions=[{"signal_type": "golden_cross", "min_confidence": 0}],
    )
    return pipeline


def _connected(spans) -> bool:
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if not span.parent_span_id]
    return len(roots) == 1 and all(
        span.parent_span_id in ids for span in spans if span.parent_span_id
    )


@pytest.fixture
def sdk_on(monkeypatch):
    """The pytest environment defaults OTEL_SDK_DISABLED=true (CrewAI's sake, as `make test`
    did); this test's own provider stands in for a traced process, so it must record."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "false")


def test_a_signal_started_run_is_one_connected_trace(owner, receiver, alpaca, bus, sdk_on):
    pipeline = _signal_driven_paper_pipeline(owner)
    env = _env(receiver, alpaca)
    worker = _start(
        [
            *("-m", "celery", "-A", "config", "worker", "-P", "threads", "-c", "2"),
            *("-Q", "executions,default", "--without-mingle", "--without-gossip", "-l", "WARNING"),
        ],
        env,
    )
    dispatcher = _start(["manage.py", "run_dispatcher", "--consumer", "traced"], env)
    # The generators process's side, here: the signal is published inside a span of its own.
    provider = TracerProvider(resource=Resource.create({"service.name": "test-generator"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"))
    )
    try:
        with provider.get_tracer("test").start_as_current_span("signal generated") as root:
            bus.publish(signal_body(tickers=[(symbol, 90) for symbol in SYMBOLS]))
        trace_id = format(root.get_span_context().trace_id, "032x")
        _wait_for(
            lambda: PipelineExecution.objects.filter(
                pipeline=pipeline, status=ExecutionStatus.COMPLETED
            ).exists(),
            what=lambda: "the signal-started run",
        )
        assert alpaca.order_requests(), "the run sent no order to the broker"
        expected_agents = {f"agent {node['agent_type']}" for node in GRAPH["nodes"]}
        expected_agents.add(f"agent {PIPELINE_MANAGER_TYPE}")

        def complete() -> bool:
            names = {span.name for span in receiver.trace(trace_id)}
            return expected_agents <= names and any(
                span.attributes.get("url.full", span.attributes.get("http.url", "")).endswith(
                    "/v2/orders"
                )
                for span in receiver.trace(trace_id)
            )

        _wait_for(
            complete,
            what=lambda: (
                "the run's spans: "
                + repr(
                    sorted({(s.service, s.name, s.trace_id == trace_id) for s in receiver.spans})
                )
            ),
        )
        _wait_for(lambda: _connected(receiver.trace(trace_id)), timeout=30, what=lambda: "parents")
    finally:
        _stop(dispatcher)
        _stop(worker)
        provider.shutdown()

    spans = receiver.trace(trace_id)
    services = {span.service for span in spans}
    assert {"test-generator", "tradecrew-dispatcher", "tradecrew-worker"} <= services
    names = {span.name for span in spans}
    assert "signal dispatch" in names
    assert "apply_async/pipelines.execution_run" in names  # the dispatcher sends the run
    assert "run/pipelines.execution_run" in names  # the worker runs it
    assert _connected(spans)
    by_id = {span.span_id: span for span in spans}
    order_call = next(
        span
        for span in spans
        if span.attributes.get("url.full", span.attributes.get("http.url", "")).endswith(
            "/v2/orders"
        )
    )
    # The broker call hangs under the trade manager's step, under the worker's task.
    chain = []
    span = order_call
    while span.parent_span_id:
        span = by_id[span.parent_span_id]
        chain.append(span.name)
    assert "agent trade_manager_agent" in chain
    assert chain.index("agent trade_manager_agent") < chain.index("run/pipelines.execution_run")
    assert chain[-1] == "signal generated"
    # The database and Redis are traced too.
    assert any(span.attributes.get("db.system") == "postgresql" for span in spans)
    assert any(span.attributes.get("db.system") == "redis" for span in spans)


def test_the_trace_id_is_stamped_on_log_records(sdk_on):
    provider = TracerProvider()
    record = logging.LogRecord("tradecrew", logging.INFO, __file__, 1, "hello", None, None)
    TraceIdFilter().filter(record)
    assert record.trace_id == "-"
    with provider.get_tracer("test").start_as_current_span("work") as current:
        record = logging.LogRecord("tradecrew", logging.INFO, __file__, 1, "hello", None, None)
        TraceIdFilter().filter(record)
        headers = trace_headers()
    assert record.trace_id == format(current.get_span_context().trace_id, "032x")
    assert headers["traceparent"].split("-")[1] == record.trace_id


def test_tracing_is_off_without_an_endpoint():
    from config.core.tracing import tracing_enabled

    assert not tracing_enabled()
    with span_continuing(
        "signal dispatch", {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    ):
        assert trace_headers() == {}
