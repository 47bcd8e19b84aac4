"""The base layout: navigation, vendored assets, security headers, metrics."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_layout_has_navigation_and_csrf_header(owner_client):
    response = owner_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for area in [
        "Dashboard",
        "Pipelines",
        "Monitor",
        "Positions",
        "Signals",
        "Analytics",
        "Billing",
        "Settings",
    ]:
        assert area in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "/static/vendor/htmx/htmx.min.js" in html
    assert "/static/vendor/pico/pico.min.css" in html


def test_pages_carry_a_content_security_policy_and_request_id(owner_client):
    response = owner_client.get("/")
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if "script-src" in part)
    assert "'self'" in script_src
    assert "unsafe" not in script_src
    assert "frame-ancestors 'none'" in policy
    assert len(response["X-Request-ID"]) >= 8


def test_vendored_htmx_is_served_from_our_static_files(client):
    response = client.get("/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200


def test_api_docs_render_from_local_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"/static/ninja/swagger-ui-bundle.js" in response.content
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "Tradecrew API"


def test_metrics_serve_prometheus_text(client, settings):
    settings.DEBUG = True  # development: open without a token
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total" in response.content


def test_metrics_are_closed_in_production_without_a_token(settings):
    settings.DEBUG = False
    settings.METRICS_BEARER_TOKEN = None
    response = Client().get("/metrics")
    assert response.status_code == 403
    assert b"METRICS_BEARER_TOKEN" in response.content
    assert b"django_http_requests_total" not in response.content


def test_metrics_can_require_a_bearer_token(settings):
    settings.METRICS_BEARER_TOKEN = "scrape-secret"
    assert Client().get("/metrics").status_code == 401
    response = Client().get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert response.status_code == 200
