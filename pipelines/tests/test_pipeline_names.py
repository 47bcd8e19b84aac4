"""Pipeline names are unique per owner: the API answers 422 naming `name`, the builder puts the
error on the name field, copies and templates pick a free name; other owners are unaffected."""

import json

import pytest
from django.urls import reverse

from pipelines import blueprints, services
from pipelines.models import Pipeline
from pipelines.tests.factories import day_trading_graph, pipeline_payload

pytestmark = pytest.mark.django_db

PIPELINES = "/api/v1/pipelines"


def test_it_refuses_a_second_pipeline_with_the_same_name_naming_the_field(api, owner):
    assert api.post(PIPELINES, pipeline_payload(name="Momentum")).status_code == 201
    response = api.post(PIPELINES, pipeline_payload(name="  momentum "))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"][-1] == "name"
    assert "already have a pipeline named" in detail[0]["msg"]
    assert Pipeline.objects.filter(owner=owner).count() == 1


def test_it_refuses_a_rename_onto_another_pipelines_name(api, owner):
    first = api.post(PIPELINES, pipeline_payload(name="Momentum")).json()["id"]
    second = api.post(PIPELINES, pipeline_payload(name="Breakout")).json()["id"]
    response = api.patch(f"{PIPELINES}/{second}", {"name": "MOMENTUM"})
    assert response.status_code == 422
    assert "name" in str(response.json()["detail"])
    assert Pipeline.objects.get(pk=second).name == "Breakout"
    # Saving a pipeline under its own name is fine.
    assert api.patch(f"{PIPELINES}/{first}", {"name": "Momentum"}).status_code == 200


def test_another_owner_may_use_the_same_name(api, outsider_api):
    assert api.post(PIPELINES, pipeline_payload(name="Momentum")).status_code == 201
    assert outsider_api.post(PIPELINES, pipeline_payload(name="Momentum")).status_code == 201


def test_the_builder_puts_the_duplicate_name_error_on_the_name_field(owner_client, owner):
    services.pipeline_create(owner=owner, name="Canvas crew", graph=day_trading_graph())
    response = owner_client.post(
        reverse("pipelines:builder"),
        {
            "name": "Canvas crew",
            "symbols": "AAPL",
            "primary_timeframe": "5m",
            "run_mode": "run_once",
            "trading_mode": "SIMULATION",
            "active_days": [str(d) for d in range(7)],
            "graph": json.dumps(day_trading_graph()),
        },
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "already have a pipeline named “Canvas crew”" in html
    assert Pipeline.objects.filter(owner=owner).count() == 1


def test_copies_and_templates_get_a_free_name(owner):
    original, _ = services.pipeline_create(owner=owner, name="Momentum", graph=day_trading_graph())
    assert services.pipeline_clone(pipeline=original).name == "Momentum (copy)"
    assert services.pipeline_clone(pipeline=original).name == "Momentum (copy) (2)"
    first, _ = blueprints.pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    second, _ = blueprints.pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    assert second.name == f"{first.name} (2)"
