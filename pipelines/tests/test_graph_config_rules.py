"""Everything a run would refuse for configuration is refused at Check graph and Save, naming
the node and the field: conditional rules (a level condition needs a level), the exit split,
cron expressions, and sane maxima on the pipeline's limits."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from pipelines.models import Pipeline
from pipelines.tests.factories import day_trading_graph, pipeline_payload

pytestmark = pytest.mark.django_db

PIPELINES = "/api/v1/pipelines"


def price_trigger_graph(config: dict) -> dict:
    """The issue's pipeline: Price Trigger → Market Data → … with the trigger's config."""
    graph = day_trading_graph()
    trigger = graph["nodes"][0]
    trigger["agent_type"] = "price_trigger"
    trigger["config"] = config
    return graph


def _node(graph: dict, agent_type: str) -> dict:
    return next(n for n in graph["nodes"] if n["agent_type"] == agent_type)


def test_it_refuses_to_save_a_price_trigger_above_with_no_level(api):
    graph = price_trigger_graph({"condition": "above"})
    response = api.post(PIPELINES, pipeline_payload(graph=graph))
    assert response.status_code == 422
    issues = response.json()["detail"]
    trigger_id = graph["nodes"][0]["id"]
    assert {"node_id": trigger_id, "field": "config.level"} in [
        {"node_id": i["node_id"], "field": i["field"]} for i in issues
    ], issues
    assert not Pipeline.objects.exists()


def test_check_graph_names_the_node_and_field_of_a_missing_level(owner_client):
    graph = price_trigger_graph({"condition": "crosses_below"})
    html = owner_client.post(
        reverse("pipelines:builder-validate"),
        {"graph": json.dumps(graph)},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    issues = json.loads(
        re.search(
            r'<script id="graph-issues-data" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    assert [(i["node_id"], i["field"]) for i in issues] == [
        (graph["nodes"][0]["id"], "config.level")
    ]
    assert "is required for the above/below/crosses conditions" in issues[0]["msg"]


def test_it_saves_a_price_trigger_with_a_level(api):
    response = api.post(
        PIPELINES, pipeline_payload(graph=price_trigger_graph({"condition": "above", "level": 1}))
    )
    assert response.status_code == 201, response.content


def test_it_refuses_an_exit_split_that_does_not_add_up_to_100(api):
    graph = day_trading_graph()
    trade_manager = _node(graph, "trade_manager_agent")
    trade_manager["config"]["partial_exit_split"] = [70, 50]
    response = api.post(PIPELINES, pipeline_payload(graph=graph))
    assert response.status_code == 422
    issue = next(i for i in response.json()["detail"] if i["node_id"] == trade_manager["id"])
    assert issue["field"] == "config.partial_exit_split"
    assert "must add up to 100% (it is 70 + 50 = 120)" in issue["msg"]
    assert not Pipeline.objects.exists()


def test_it_parses_a_time_triggers_cron_expression_at_save(api):
    graph = day_trading_graph()
    trigger = graph["nodes"][0]
    trigger["agent_type"] = "time_trigger"
    trigger["config"] = {"schedule": {"type": "cron", "cron": "0 25 * * 1-5"}}
    response = api.post(PIPELINES, pipeline_payload(graph=graph))
    assert response.status_code == 422
    issue = response.json()["detail"][0]
    assert (issue["node_id"], issue["field"]) == (trigger["id"], "config.schedule.cron")
    assert not Pipeline.objects.exists()


def test_it_parses_the_pipeline_schedules_cron_at_save(api):
    response = api.post(
        PIPELINES,
        pipeline_payload(
            run_mode="run_scheduled",
            schedule={"schedule_type": "cron", "cron_expression": "99 * * * *"},
        ),
    )
    assert response.status_code == 422
    assert "schedule" in str(response.json()["detail"])
    assert not Pipeline.objects.exists()


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"max_tokens_per_run": 10**30}, "max_tokens_per_run"),
        ({"max_tokens_per_run": 10_000_001}, "max_tokens_per_run"),
        ({"max_cost_per_run": "1000000"}, "max_cost_per_run"),
    ],
)
def test_it_refuses_absurd_limits(api, settings, field):
    response = api.post(PIPELINES, pipeline_payload(settings=settings))
    assert response.status_code == 422
    assert field in str(response.json()["detail"])
    assert not Pipeline.objects.exists()


def test_it_accepts_a_generous_token_limit(api):
    response = api.post(PIPELINES, pipeline_payload(settings={"max_tokens_per_run": 200_000}))
    assert response.status_code == 201, response.content
