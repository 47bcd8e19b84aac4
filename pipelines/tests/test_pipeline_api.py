"""Pipelines API: create, validate, read, change, clone, delete, templates; owner-scoped."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipelines.models import Pipeline
from pipelines.tests.factories import day_trading_graph, pipeline_payload

pytestmark = pytest.mark.django_db

PIPELINES = "/api/v1/pipelines"


def test_create_saves_a_valid_pipeline_with_defaults_filled(api, owner):
    response = api.post(PIPELINES, pipeline_payload())
    assert response.status_code == 201, response.content
    body = response.json()
    pipeline = Pipeline.objects.get(pk=body["id"])
    assert pipeline.owner == owner
    assert pipeline.symbols == ["AAPL"]
    assert pipeline.trading_mode == "SIMULATION"
    assert pipeline.status == "draft"
    risk = next(n for n in pipeline.graph["nodes"] if n["agent_type"] == "risk_manager_agent")
    assert risk["config"]["min_risk_reward"] == 1.5
    assert body["warnings"] == []


@pytest.mark.parametrize(
    ("mutate", "node_id", "field"),
    [
        (lambda g: g["edges"].append({"from": "node-5", "to": "node-2"}), "node-2", "edges"),
        (lambda g: g["nodes"][2].update(agent_type="astrology_agent"), "node-3", "agent_type"),
        (
            lambda g: g["nodes"][4]["config"].update(risk_per_trade_pct="lots"),
            "node-5",
            "config.risk_per_trade_pct",
        ),
    ],
    ids=["cycle", "unknown-type", "bad-config"],
)
def test_create_rejects_an_invalid_graph_naming_node_and_field(api, mutate, node_id, field):
    graph = day_trading_graph()
    mutate(graph)
    response = api.post(PIPELINES, pipeline_payload(graph=graph))
    assert response.status_code == 422
    issues = response.json()["detail"]
    assert any(i["node_id"] == node_id and i["field"] == field for i in issues), issues
    assert not Pipeline.objects.exists()


def test_create_without_a_trigger_is_422_and_saves_nothing(api):
    graph = day_trading_graph()
    graph["nodes"] = graph["nodes"][1:]
    graph["edges"] = graph["edges"][1:]
    response = api.post(PIPELINES, pipeline_payload(graph=graph))
    assert response.status_code == 422
    assert "trigger" in str(response.json()["detail"])
    assert not Pipeline.objects.exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"symbols": ["AAPL", "not a ticker"]}, "symbols"),
        ({"name": ""}, "name"),
        ({"trading_mode": "LIVE"}, "trading_mode"),
        ({"settings": {"max_retries": 99}}, "settings"),
        ({"mode_config": {"slippage_pct": -1}}, "mode_config"),
        ({"run_mode": "sometimes"}, "run_mode"),
    ],
)
def test_create_rejects_bad_fields_naming_them(api, override, field):
    response = api.post(PIPELINES, pipeline_payload(**override))
    assert response.status_code == 422, response.content
    assert field in str(response.json()["detail"])
    assert not Pipeline.objects.exists()


def test_validate_reports_errors_without_saving(api):
    graph = day_trading_graph()
    graph["nodes"][3]["config"]["timeframe"] = "7m"
    response = api.post(f"{PIPELINES}/validate", {"graph": graph})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["errors"][0]["node_id"] == "node-4"
    assert body["errors"][0]["field"] == "config.timeframe"
    assert not Pipeline.objects.exists()


def test_list_is_paginated_owner_scoped_and_a_fixed_number_of_queries(api, owner, outsider):
    for index in range(3):
        api.post(PIPELINES, pipeline_payload(name=f"mine {index}"))
    Pipeline.objects.create(owner=outsider, name="theirs", graph=day_trading_graph())
    with CaptureQueriesContext(connection) as few:
        response = api.get(PIPELINES)
    assert response.json()["count"] == 3
    # More than the creation limit allows in a minute (§15.3), so straight into the database.
    for index in range(20):
        Pipeline.objects.create(owner=owner, name=f"more {index}", graph=day_trading_graph())
    with CaptureQueriesContext(connection) as many:
        response = api.get(PIPELINES, {"limit": 100})
    assert response.json()["count"] == 23
    assert len(many) == len(few)


def test_another_user_gets_404_and_changes_nothing(api, outsider_api):
    pipeline_id = api.post(PIPELINES, pipeline_payload()).json()["id"]
    url = f"{PIPELINES}/{pipeline_id}"
    assert outsider_api.get(url).status_code == 404
    assert outsider_api.patch(url, {"name": "hijacked"}).status_code == 404
    assert outsider_api.delete(url).status_code == 404
    assert outsider_api.post(f"{url}/clone").status_code == 404
    assert outsider_api.post(f"{url}/executions").status_code == 404
    assert Pipeline.objects.get(pk=pipeline_id).name == "My day-trading bot"
    assert Pipeline.objects.count() == 1


def test_patch_changes_fields_and_revalidates_the_graph(api):
    pipeline_id = api.post(PIPELINES, pipeline_payload()).json()["id"]
    url = f"{PIPELINES}/{pipeline_id}"
    assert api.patch(url, {"name": "Renamed", "symbols": ["msft"]}).status_code == 200
    pipeline = Pipeline.objects.get(pk=pipeline_id)
    assert (pipeline.name, pipeline.symbols) == ("Renamed", ["MSFT"])
    graph = day_trading_graph()
    graph["nodes"][0]["agent_type"] = "nope"
    response = api.patch(url, {"graph": graph})
    assert response.status_code == 422
    pipeline.refresh_from_db()
    assert pipeline.graph["nodes"][0]["agent_type"] == "time_trigger"


def test_trading_mode_is_not_changed_by_patch(api):
    pipeline_id = api.post(PIPELINES, pipeline_payload()).json()["id"]
    response = api.put(f"{PIPELINES}/{pipeline_id}", pipeline_payload(trading_mode="VALIDATION"))
    assert response.status_code == 422
    assert "mode" in str(response.json()["detail"])


def test_clone_copies_into_a_new_draft(api, owner):
    pipeline_id = api.post(PIPELINES, pipeline_payload()).json()["id"]
    response = api.post(f"{PIPELINES}/{pipeline_id}/clone", {"name": "Copy"})
    assert response.status_code == 201
    clone = Pipeline.objects.get(pk=response.json()["id"])
    original = Pipeline.objects.get(pk=pipeline_id)
    assert clone.name == "Copy"
    assert clone.graph == original.graph
    assert clone.owner == owner


def test_delete_removes_the_pipeline(api):
    pipeline_id = api.post(PIPELINES, pipeline_payload()).json()["id"]
    assert api.delete(f"{PIPELINES}/{pipeline_id}").status_code == 204
    assert not Pipeline.objects.exists()


def test_templates_are_listed_and_each_creates_a_valid_pipeline(api, owner):
    templates = api.get(f"{PIPELINES}/templates").json()
    assert {t["key"] for t in templates} == {"day_trading_5m", "golden_cross_1d", "scanner_top5"}
    for template in templates:
        response = api.post(f"{PIPELINES}/from-template", {"template_key": template["key"]})
        assert response.status_code == 201, response.content
    assert owner.pipelines.count() == 3
    response = api.post(f"{PIPELINES}/from-template", {"template_key": "nope"})
    assert response.status_code == 422
    assert "template_key" in str(response.json()["detail"])


def test_agents_endpoint_lists_metadata_and_schemas(api):
    agents = {a["agent_type"]: a for a in api.get("/api/v1/agents").json()}
    assert "pipeline_manager_agent" not in agents
    for agent_type in [
        "time_trigger",
        "technical_trigger",
        "price_trigger",
        "news_trigger",
        "market_data_agent",
        "bias_agent",
        "strategy_agent",
        "risk_manager_agent",
        "trade_manager_agent",
        "reporting_agent",
        "stock_picker_agent",
    ]:
        assert agent_type in agents
        assert agents[agent_type]["config_schema"]["type"] == "object"
    assert agents["strategy_agent"]["pricing_rate"] == "0.10"
