"""No 500 for anything a client can send: bounded pagination, NUL characters, deep and huge
bodies, plain decimals, and every error documented as `{"detail": …}`."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.conf import settings

from config.openapi import ERRORS, PlainDecimalEncoder

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/pipelines", "/api/v1/executions", "/api/v1/trades", "/api/v1/orders"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    "params",
    [{"limit": 10**20}, {"offset": 10**20}, {"offset": -1}, {"limit": 0}, {"limit": 1001}],
)
def test_it_refuses_out_of_range_pagination_with_422_naming_it(api, url, params):
    response = api.get(url, params)

    assert response.status_code == 422, response.content
    [name] = params
    assert name in {loc for error in response.json()["detail"] for loc in error["loc"]}


def test_it_refuses_nul_characters_in_a_body_or_query_with_422(api, owner):
    from pipelines.tests.factories import pipeline_payload

    created = api.post("/api/v1/pipelines", pipeline_payload(name="bad\x00name"))
    searched = api.get("/api/v1/pipelines", {"search": "x\x00y"})

    assert created.status_code == 422
    assert created.json()["detail"][0]["loc"] == ["body", "name"]
    assert searched.status_code == 422
    assert owner.pipelines.count() == 0


def test_it_answers_a_deeply_nested_body_with_422(api, owner):
    body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = api.post("/api/v1/pipelines", body, content_type="application/json; charset=utf-8")

    assert response.status_code in {400, 422}
    assert "detail" in response.json()
    assert owner.pipelines.count() == 0


def test_it_answers_a_body_over_the_limit_with_json_413(api, owner):
    body = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    response = api.post("/api/v1/pipelines", body, content_type="application/json; charset=utf-8")

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert owner.pipelines.count() == 0


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("5.1E-7"), "0.00000051"),
        (Decimal("0E-8"), "0.00000000"),
        (Decimal("12.50"), "12.50"),
    ],
)
def test_it_writes_decimals_plainly(value, written):
    assert json.loads(json.dumps({"cost": value}, cls=PlainDecimalEncoder)) == {"cost": written}


def test_every_operation_documents_its_errors_as_detail(anon_api):
    schema = anon_api.get("/api/v1/openapi.json").json()

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            missing = set(ERRORS) - set(operation["responses"])
            assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
    webhook_422 = schema["paths"]["/api/v1/signals/webhook"]["post"]["responses"]["422"]
    assert webhook_422["content"]["application/json"]["schema"]["$ref"].endswith("ErrorDetail")
