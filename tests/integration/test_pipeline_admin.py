"""The Django admin goes through the services: a staff user cannot switch a pipeline to LIVE or
save an invalid graph there, scanners are normalised, and the ledgers are read-only."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from pipelines.models import Pipeline, PipelineExecution, PipelineModeChange, TradingMode
from pipelines.services import execution_start, pipeline_create
from pipelines.tests.factories import day_trading_graph
from signals.models import Scanner
from trading.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = Client()
    client.force_login(UserFactory(email="support@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def pipeline(owner):
    created, _ = pipeline_create(owner=owner, name="Day trader", graph=day_trading_graph())
    return created


def _change(pipeline: Pipeline) -> str:
    return reverse("admin:pipelines_pipeline_change", args=[pipeline.pk])


def _form(pipeline: Pipeline, **overrides) -> dict:
    data = {
        "name": pipeline.name,
        "description": pipeline.description,
        "graph": json.dumps(pipeline.graph),
        "_save": "Save",
    }
    return data | overrides


def test_it_cannot_switch_a_pipeline_to_live(staff, pipeline):
    response = staff.post(_change(pipeline), _form(pipeline, trading_mode=TradingMode.LIVE))

    assert response.status_code == 302  # the rest saved; the mode is not a field of the form
    pipeline.refresh_from_db()
    assert pipeline.trading_mode == TradingMode.SIMULATION
    assert not PipelineModeChange.objects.exists()
    page = staff.get(_change(pipeline)).content.decode()
    assert 'name="trading_mode"' not in page  # shown read-only, not as an input


def test_it_refuses_an_invalid_graph(staff, pipeline):
    broken = {"nodes": [{"id": "x", "agent_type": "no_such_agent", "config": {}}], "edges": []}
    saved_graph = pipeline.graph

    response = staff.post(_change(pipeline), _form(pipeline, graph=json.dumps(broken)))

    assert response.status_code == 200  # the form again, with the error
    assert "no_such_agent" in response.content.decode()
    pipeline.refresh_from_db()
    assert pipeline.graph == saved_graph


def test_it_saves_a_rename_through_the_service(staff, pipeline):
    response = staff.post(_change(pipeline), _form(pipeline, name="  Renamed  "))

    assert response.status_code == 302
    pipeline.refresh_from_db()
    assert pipeline.name == "Renamed"  # stripped by pipeline_update


def test_it_adds_no_pipeline_and_edits_no_execution_or_order(staff, pipeline, owner):
    execution = execution_start(pipeline=pipeline)
    order = Order.objects.create(
        owner=owner, client_order_id="admin-test-1", symbol="AAPL", side="buy", quantity=1
    )

    assert staff.get(reverse("admin:pipelines_pipeline_add")).status_code == 403
    url = reverse("admin:pipelines_pipelineexecution_change", args=[execution.pk])
    assert staff.get(url).status_code == 200  # visible to support
    staff.post(url, {"status": "completed"})
    assert PipelineExecution.objects.get(pk=execution.pk).status == execution.status
    order_url = reverse("admin:trading_order_change", args=[order.pk])
    assert staff.get(order_url).status_code == 200
    staff.post(order_url, {"quantity": 500})
    assert Order.objects.get(pk=order.pk).quantity == 1
    delete = reverse("admin:trading_order_delete", args=[order.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_it_saves_a_scanner_through_the_service(staff, owner):
    scanner = Scanner.objects.create(owner=owner, name="Tech", tickers=["AAPL"])
    url = reverse("admin:signals_scanner_change", args=[scanner.pk])

    refused = staff.post(url, {"name": "Tech", "tickers": json.dumps(["not a ticker"])})
    response = staff.post(url, {"name": "Tech", "tickers": json.dumps(["msft", " nvda", "MSFT"])})

    assert refused.status_code == 200
    assert response.status_code == 302
    scanner.refresh_from_db()
    assert scanner.tickers == ["MSFT", "NVDA"]
