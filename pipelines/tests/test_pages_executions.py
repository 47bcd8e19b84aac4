"""The live monitor and the history: the executions list (filters, fixed queries), a run's page
(steps with engine, cost and output; trades; charts), stopping, the report viewer, the HTML
websocket streams, and owner scoping."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from config.asgi import application
from config.core.events import event_emit
from pipelines import engine, services
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution, Report
from pipelines.tests.factories import minimal_graph

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def finished_run(owner, clock):
    """A day-trading run in simulation, run to the end by the engine."""
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    pipeline.mode_config = {"simulate_rejections": False, "simulate_partial_fills": False}
    pipeline.save()
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    assert engine.execution_run(execution_id=execution.pk, task_id="t", clock=clock) == "completed"
    return PipelineExecution.objects.get(pk=execution.pk)


def test_the_monitor_shows_each_agent_with_engine_duration_cost_and_output(
    owner_client, finished_run
):
    html = owner_client.get(reverse("pipelines:execution", args=[finished_run.pk])).content.decode()
    rows = re.findall(r'<tr id="step-([\w-]+)" class="step-row step-(\w+)"', html)
    assert [row[0] for row in rows] == ["pipeline-manager", *[f"node-{n}" for n in range(1, 8)]]
    assert all(status == "completed" for _, status in rows)
    assert 'data-label="Engine"><span class="chip"' in html and ">rules<" in html
    assert re.search(r'data-label="Duration" class="num">\d+(\.\d)? (ms|s)<', html)
    assert "Bias Agent" in html and "confidence" in html  # the bias agent's output summary
    assert 'ws-connect="/ws/executions/' in html and '/html/"' in html
    assert 'data-poll="#execution-live"' in html
    assert 'data-testid="report-link"' in html
    # candles, levels and fills for the chart, as JSON the page never executes
    charts = json.loads(
        re.search(
            r'<script id="execution-charts-data" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    assert charts and {"symbol", "candles", "levels", "markers", "timeframes"} <= set(charts[0])
    assert "TradingView" in html


def test_the_monitor_says_when_the_rules_engine_stood_in_for_the_llm(
    owner_client, owner, clock, settings
):
    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    graph = pipeline.graph
    graph["nodes"][2]["config"]["engine"] = "llm"
    services.pipeline_update(pipeline=pipeline, graph=graph)
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    engine.execution_run(execution_id=execution.pk, task_id="t", clock=clock)
    html = owner_client.get(reverse("pipelines:execution", args=[execution.pk])).content.decode()
    assert "rules (no LLM configured)" in html
    assert "No language model is configured" in html


def test_a_failed_step_shows_its_error_inline(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Broken", graph=minimal_graph())
    execution = PipelineExecution.objects.create(
        pipeline=pipeline,
        owner=owner,
        trading_mode="SIMULATION",
        graph=pipeline.graph,
        status=ExecutionStatus.FAILED,
        error="Market data failed: no bars for ZZZZ.",
    )
    from django.utils import timezone

    execution.steps.create(
        node_id="md",
        agent_type="market_data_agent",
        position=2,
        status="failed",
        started_at=timezone.now(),
        error="no bars for ZZZZ",
    )
    html = owner_client.get(reverse("pipelines:execution", args=[execution.pk])).content.decode()
    assert '<span class="loss" role="alert">no bars for ZZZZ</span>' in html
    assert "The run failed:</strong> Market data failed" in html


def test_polling_gets_only_the_live_part(owner_client, finished_run):
    response = owner_client.get(reverse("pipelines:execution", args=[finished_run.pk]), **HTMX)
    html = response.content.decode()
    assert html.startswith('\n<div id="execution-live"') or html.lstrip().startswith(
        '<div id="execution-live"'
    )
    assert "<html" not in html


def test_stop_asks_first_then_cancels(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Slow", graph=minimal_graph())
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    url = reverse("pipelines:execution-stop", args=[execution.pk])
    page = owner_client.get(url)
    assert "Stop this run?" in page.content.decode()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PENDING
    owner_client.post(url, {"confirmed": "yes"})
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED


def test_the_report_shows_the_reasoning_chain(owner_client, finished_run):
    report = Report.objects.get(execution=finished_run, report_type="execution")
    html = owner_client.get(reverse("pipelines:report", args=[report.pk])).content.decode()
    for step in ("chain-trigger", "chain-market_snapshot", "chain-bias", "chain-strategy"):
        assert step in html
    assert "Risk checks" in html
    assert "Stop loss" in html or "Stop" in html


def test_a_trade_closed_report_shows_the_outcome(owner_client, owner, finished_run):
    from trading.executors.factory import executor_for_position
    from trading.models import Position
    from trading.services import position_emergency_close

    position = Position.objects.filter(owner=owner, status="open").first()
    position_emergency_close(
        owner=owner, position=position, reason="test", executor_for=executor_for_position
    )
    report = Report.objects.get(execution=finished_run, report_type="trade_closed")
    html = owner_client.get(reverse("pipelines:report", args=[report.pk])).content.decode()
    assert "Outcome" in html and "Closed because" in html
    assert "chain-outcome" in html


def _execution(owner, pipeline, **fields):
    return PipelineExecution.objects.create(
        pipeline=pipeline, owner=owner, trading_mode=pipeline.trading_mode, **fields
    )


def test_the_executions_list_filters(owner_client, owner):
    first = Pipeline.objects.create(
        owner=owner, name="First", graph=minimal_graph(), symbols=["AAPL"]
    )
    second = Pipeline.objects.create(
        owner=owner, name="Second", graph=minimal_graph(), trading_mode="PAPER"
    )
    done = _execution(owner, first, status="completed")
    failed = _execution(owner, second, status="failed", error="Broker refused.")
    url = reverse("pipelines:executions")
    all_rows = owner_client.get(url).content.decode()
    assert f"execution-{done.pk}" in all_rows and f"execution-{failed.pk}" in all_rows
    by_status = owner_client.get(url, {"status": "failed"}).content.decode()
    assert f"execution-{failed.pk}" in by_status and f"execution-{done.pk}" not in by_status
    by_pipeline = owner_client.get(url, {"pipeline": str(first.pk)}).content.decode()
    assert f"execution-{done.pk}" in by_pipeline and f"execution-{failed.pk}" not in by_pipeline
    by_mode = owner_client.get(url, {"trading_mode": "PAPER"}).content.decode()
    assert f"execution-{failed.pk}" in by_mode and f"execution-{done.pk}" not in by_mode
    by_symbol = owner_client.get(url, {"symbol": "aapl"}).content.decode()
    assert f"execution-{done.pk}" in by_symbol and f"execution-{failed.pk}" not in by_symbol
    none = owner_client.get(url, {"date_from": "2999-01-01"}).content.decode()
    assert "No runs match these filters" in none


def test_the_executions_list_runs_a_fixed_number_of_queries(
    owner_client, owner, django_assert_num_queries
):
    pipeline = Pipeline.objects.create(owner=owner, name="Busy", graph=minimal_graph())
    PipelineExecution.objects.bulk_create(
        PipelineExecution(
            pipeline=pipeline, owner=owner, trading_mode="SIMULATION", status="completed"
        )
        for _ in range(50)
    )
    owner_client.get(reverse("pipelines:executions"))
    # session, user, pipelines for the filter, count, rows, bell
    with django_assert_num_queries(6):
        response = owner_client.get(reverse("pipelines:executions"))
    assert response.content.decode().count('class="execution-row"') == 50


def test_an_empty_monitor_points_to_the_first_step(owner_client):
    html = owner_client.get(reverse("pipelines:executions")).content.decode()
    assert "Nothing has run yet" in html


def test_another_users_run_and_report_are_404(client, outsider, finished_run):
    report = Report.objects.get(execution=finished_run)
    client.force_login(outsider)
    assert client.get(reverse("pipelines:execution", args=[finished_run.pk])).status_code == 404
    assert client.get(reverse("pipelines:report", args=[report.pk])).status_code == 404
    stop = client.post(
        reverse("pipelines:execution-stop", args=[finished_run.pk]), {"confirmed": "yes"}
    )
    assert stop.status_code == 404
    assert (
        f"execution-{finished_run.pk}"
        not in client.get(reverse("pipelines:executions")).content.decode()
    )


# --- The HTML websocket streams -----------------------------------------------------------------


def _cookie(client, user) -> bytes:
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(path: str, cookie: bytes):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


def test_the_run_stream_sends_the_same_step_row_out_of_band(client, owner, finished_run):
    cookie = _cookie(client, owner)

    async def scenario():
        communicator, connected, _ = await _connect(
            f"/ws/executions/{finished_run.pk}/html/", cookie
        )
        assert connected
        await sync_to_async(event_emit)(
            event="agent_completed",
            owner_id=owner.pk,
            execution_id=finished_run.pk,
            agent_id="node-3",
            agent_type="bias_agent",
        )
        messages = [await communicator.receive_from(timeout=5) for _ in range(2)]
        await communicator.disconnect()
        return messages

    row, status = async_to_sync(scenario)()
    assert row.startswith('<tr id="step-node-3" class="step-row step-completed"')
    assert 'hx-swap-oob="true"' in row and "Bias Agent" in row
    assert 'id="execution-status"' in status and 'hx-swap-oob="true"' in status
    # the very markup the page renders for that row on load
    page = client.get(reverse("pipelines:execution", args=[finished_run.pk])).content.decode()
    on_load = re.search(r'<tr id="step-node-3".*?</tr>', page, re.S).group(0)
    assert row.replace(' hx-swap-oob="true"', "") == on_load


def test_the_user_stream_sends_position_rows_and_the_bell(client, owner, finished_run):
    from accounts.services import notify
    from trading.models import Position
    from trading.services import _position_event

    position = Position.objects.filter(owner=owner, status="open").first()
    cookie = _cookie(client, owner)

    async def scenario():
        communicator, connected, _ = await _connect("/ws/events/html/?topics=positions", cookie)
        assert connected
        await sync_to_async(_position_event)(position)
        row = await communicator.receive_from(timeout=5)
        await sync_to_async(notify)(owner=owner, title="Limit hit", message="max trades")
        bell = await communicator.receive_from(timeout=5)
        toast = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return row, bell, toast

    row, bell, toast = async_to_sync(scenario)()
    assert row.startswith(f'<tr id="position-{position.pk}"')
    assert 'hx-swap-oob="true"' in row and 'data-upsert-into="#positions-body"' in row
    assert 'id="notif-bell"' in bell and 'data-testid="bell-count">1<' in bell
    assert "Limit hit" in toast and 'hx-swap-oob="beforeend:#toasts"' in toast


def test_the_user_stream_sends_execution_rows_when_asked(client, owner, finished_run):
    cookie = _cookie(client, owner)

    async def scenario():
        communicator, connected, _ = await _connect("/ws/events/html/?topics=executions", cookie)
        assert connected
        await sync_to_async(event_emit)(
            event="execution_completed",
            owner_id=owner.pk,
            execution_id=finished_run.pk,
            status="completed",
        )
        message = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message.startswith(f'<tr id="execution-{finished_run.pk}"')
    assert 'hx-swap-oob="true"' in message


def test_another_user_cannot_open_my_runs_html_stream(client, outsider, finished_run):
    cookie = _cookie(client, outsider)

    async def scenario():
        _, connected, code = await _connect(f"/ws/executions/{finished_run.pk}/html/", cookie)
        return connected, code

    assert async_to_sync(scenario)() == (False, 4404)
