"""The pipeline builder: the palette from the registry, config panels rendered on the server from
each agent's JSON Schema, graph checks whose errors name the node and field, saving."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from pipelines.models import Pipeline, TradingMode
from pipelines.tests.factories import day_trading_graph

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _panel(client, agent_type, config=None, graph=None, node_id="node-1"):
    return client.post(
        reverse("pipelines:builder-node"),
        {
            "agent_type": agent_type,
            "node_id": node_id,
            "config": json.dumps(config or {}),
            "graph": json.dumps(graph or {"nodes": [], "edges": []}),
        },
        **HTMX,
    ).content.decode()


def _settings(**overrides):
    data = {
        "name": "Canvas crew",
        "symbols": "tsla, jpm",
        "primary_timeframe": "5m",
        "run_mode": "run_once",
        "trading_mode": "SIMULATION",
        "active_days": [str(d) for d in range(7)],
        "stop_pipeline_at_end": "on",
        "simulate_partial_fills": "",
    }
    data.update(overrides)
    return data


def test_the_palette_groups_agents_by_category_with_their_price(owner_client):
    html = owner_client.get(reverse("pipelines:builder")).content.decode()
    assert "Triggers" in html and "Analysis" in html and "Execution" in html
    assert 'data-testid="palette-bias_agent"' in html
    assert "$0.08/h" in html  # the bias agent's rate
    assert re.search(
        r"Time Trigger</span>\s*<span class=\"palette-price\"><span class=\"free\">Free", html
    )
    assert "pipeline_manager" not in html  # the system agent is added automatically
    assert "/static/vendor/drawflow/drawflow.min.js" in html
    assert "/static/js/builder.js" in html
    assert "<script>" not in html  # no inline script: only JSON data blocks


def test_a_template_opens_in_the_builder(owner_client):
    html = owner_client.get(
        reverse("pipelines:builder") + "?template=scanner_top5"
    ).content.decode()
    data = re.search(r'<script id="builder-graph" type="application/json">(.*?)</script>', html)
    graph = json.loads(data.group(1))
    assert [n["agent_type"] for n in graph["nodes"]][:2] == ["time_trigger", "stock_picker_agent"]


def test_the_panel_renders_the_schema_as_a_form(owner_client):
    html = _panel(owner_client, "bias_agent")
    # enum → select, arrays of timeframes → multi-select, numbers with bounds, booleans → checkbox
    assert '<select id="cfg-engine" name="cfg.engine" data-kind="select"' in html
    assert (
        'id="cfg-analysis_timeframes" name="cfg.analysis_timeframes" data-kind="multiselect"'
        in html
    )
    assert re.search(r'id="cfg-confidence_threshold"[^>]*min="0" max="100"', html)
    assert 'data-kind="checkbox"' in html
    assert "Analysis timeframes" in html
    assert "Symbols with a less confident bias are dropped." in html  # descriptions as help
    assert "No language model is configured" in html


def test_nested_objects_become_fieldsets_with_required_marks(owner_client):
    html = _panel(owner_client, "time_trigger")
    assert '<fieldset class="cfg-group">' in html
    assert "<legend>Schedule" in html
    assert 'name="cfg.schedule.type"' in html and 'name="cfg.schedule.offset_minutes"' in html
    assert 'title="required">*</span>' in html
    picker = _panel(owner_client, "stock_picker_agent")
    assert "<legend>Screener filters" in picker
    assert 'name="cfg.screener.min_price"' in picker and 'data-nullable="1"' in picker


def test_the_panel_shows_the_nodes_errors_on_its_fields(owner_client):
    html = _panel(owner_client, "bias_agent", {"confidence_threshold": 150})
    assert re.search(
        r'cfg-field has-error" data-path="confidence_threshold".*?must be at most 100', html, re.S
    )
    assert 'value="150"' in html  # what the trader typed stays


def test_the_market_data_panel_explains_the_timeframes_others_read(owner_client):
    graph = day_trading_graph()
    graph["nodes"][1]["config"]["timeframes"] = ["5m"]
    html = _panel(owner_client, "market_data_agent", graph["nodes"][1]["config"], graph, "node-2")
    assert 'data-testid="timeframe-guidance"' in html
    assert "analysis timeframes: 1h, 4h, 1d" in html
    assert "execution timeframe: 5m" in html
    assert "Not selected here: 1h, 4h, 1d" in html
    # the graph check's warning sits on the timeframes field
    assert re.search(r'data-path="timeframes".*?field-warning">Other agents read', html, re.S)


def test_check_names_the_offending_node(owner_client):
    graph = day_trading_graph()
    graph["nodes"][2]["config"]["confidence_threshold"] = 150
    response = owner_client.post(
        reverse("pipelines:builder-validate"), {"graph": json.dumps(graph)}, **HTMX
    )
    html = response.content.decode()
    assert 'data-select-node="node-3"' in html
    issues = json.loads(
        re.search(
            r'<script id="graph-issues-data" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    assert issues == [
        {
            "node_id": "node-3",
            "field": "config.confidence_threshold",
            "msg": "Bias Agent: confidence_threshold must be at most 100",
            "level": "error",
        }
    ]


def test_check_of_a_good_graph_says_so(owner_client):
    response = owner_client.post(
        reverse("pipelines:builder-validate"), {"graph": json.dumps(day_trading_graph())}, **HTMX
    )
    assert 'data-testid="graph-ok"' in response.content.decode()


def test_saving_a_bad_graph_keeps_nothing_and_answers_with_the_issues(owner_client, owner):
    graph = day_trading_graph()
    graph["edges"] = graph["edges"][1:]  # market data no longer follows the trigger
    response = owner_client.post(
        reverse("pipelines:builder"), {**_settings(), "graph": json.dumps(graph)}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="graph-issues" class="graph-issues" aria-live="polite" hx-swap-oob="true"' in html
    assert "Connect this agent after the trigger" in html
    assert 'data-select-node="node-2"' in html
    assert not Pipeline.objects.filter(owner=owner).exists()


def test_saving_creates_the_pipeline_and_redirects(owner_client, owner):
    response = owner_client.post(
        reverse("pipelines:builder"),
        {**_settings(), "graph": json.dumps(day_trading_graph())},
        **HTMX,
    )
    pipeline = Pipeline.objects.get(owner=owner)
    assert response["HX-Redirect"] == reverse("pipelines:detail", args=[pipeline.pk])
    assert pipeline.name == "Canvas crew"
    assert pipeline.symbols == ["TSLA", "JPM"]
    assert pipeline.trading_mode == TradingMode.SIMULATION
    assert pipeline.mode_config["simulate_rejections"] is False
    assert pipeline.mode_config["simulate_partial_fills"] is False
    assert pipeline.schedule is None  # nothing asked for: no schedule
    assert len(pipeline.graph["nodes"]) == 7


def test_saving_without_javascript_redirects_too(owner_client, owner):
    response = owner_client.post(
        reverse("pipelines:builder"), {**_settings(), "graph": json.dumps(day_trading_graph())}
    )
    assert response.status_code == 302
    assert Pipeline.objects.filter(owner=owner).count() == 1


def test_settings_errors_land_on_their_fields(owner_client, owner):
    response = owner_client.post(
        reverse("pipelines:builder"),
        {
            **_settings(symbols="AAPL, 12$$", run_mode="run_scheduled"),
            "graph": json.dumps(day_trading_graph()),
        },
        **HTMX,
    )
    html = response.content.decode()
    assert "is not a ticker symbol" in html
    assert not Pipeline.objects.exists()
    scheduled = owner_client.post(
        reverse("pipelines:builder"),
        {**_settings(run_mode="run_scheduled"), "graph": json.dumps(day_trading_graph())},
        **HTMX,
    )
    assert "A scheduled pipeline needs a schedule" in scheduled.content.decode()


def test_a_schedule_and_limits_are_saved(owner_client, owner):
    owner_client.post(
        reverse("pipelines:builder"),
        {
            **_settings(
                run_mode="run_continuous",
                schedule_type="time_window",
                start_time="09:45",
                end_time="15:30",
                max_trades_per_day="3",
                active_days=["0", "1", "2", "3", "4"],
            ),
            "graph": json.dumps(day_trading_graph()),
        },
        **HTMX,
    )
    schedule = Pipeline.objects.get(owner=owner).schedule
    assert schedule["schedule_type"] == "time_window"
    assert schedule["start_time"] == "09:45" and schedule["end_time"] == "15:30"
    assert schedule["max_trades_per_day"] == 3
    assert schedule["active_days"] == [0, 1, 2, 3, 4]


def test_editing_updates_the_graph_and_keeps_the_mode(owner_client, owner):
    from pipelines.services import pipeline_create

    pipeline, _ = pipeline_create(
        owner=owner, name="Mine", graph=day_trading_graph(), trading_mode="VALIDATION"
    )
    page = owner_client.get(reverse("pipelines:builder", args=[pipeline.pk])).content.decode()
    assert 'value="Mine"' in page
    assert 'data-testid="switch-LIVE"' in page  # mode cards of a saved pipeline
    graph = day_trading_graph()
    graph["nodes"][2]["config"]["confidence_threshold"] = 70
    response = owner_client.post(
        reverse("pipelines:builder", args=[pipeline.pk]),
        {**_settings(name="Mine, edited"), "graph": json.dumps(graph)},
        **HTMX,
    )
    assert response["HX-Redirect"] == reverse("pipelines:detail", args=[pipeline.pk])
    pipeline.refresh_from_db()
    assert pipeline.name == "Mine, edited"
    assert pipeline.trading_mode == TradingMode.VALIDATION
    assert pipeline.graph["nodes"][2]["config"]["confidence_threshold"] == 70


def test_another_users_pipeline_cannot_be_edited(client, outsider, owner):
    from pipelines.services import pipeline_create

    pipeline, _ = pipeline_create(owner=owner, name="Mine", graph=day_trading_graph())
    client.force_login(outsider)
    response = client.post(
        reverse("pipelines:builder", args=[pipeline.pk]),
        {**_settings(name="Stolen"), "graph": json.dumps(day_trading_graph())},
    )
    assert response.status_code == 404
    pipeline.refresh_from_db()
    assert pipeline.name == "Mine"
