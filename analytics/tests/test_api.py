"""The analytics and reports API: owner-scoped, the same figures as the page, CSV on request,
field-named 422s and 404s for foreign ids."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.tests import factories as f

pytestmark = pytest.mark.django_db

BASE = "/api/v1/analytics"


@pytest.fixture
def crew(owner):
    crew = f.pipeline(owner, name="Momentum crew")
    now = timezone.now()
    f.closed_trade(owner, net="120", pipeline=crew, closed_at=now - timedelta(days=3))
    f.closed_trade(owner, net="-40", pipeline=crew, side="short", closed_at=now - timedelta(days=2))
    f.closed_trade(owner, net="60", pipeline=crew, symbol="MSFT", closed_at=now - timedelta(days=1))
    return crew


def test_it_returns_the_users_performance(api, crew):
    response = api.get(f"{BASE}/user/performance", {"period": "30D"})
    body = response.json()
    assert response.status_code == 200
    assert body["mode"] == "SIMULATION" and body["no_real_money"] is True
    assert body["metrics"]["net_pnl"] == "140.00"
    assert body["metrics"]["trades"] == 3
    assert body["metrics"]["win_rate"] == pytest.approx(2 / 3)
    assert body["metrics"]["profit_factor"] == 4.5
    assert body["equity"][-1]["equity"] == "100140.00"
    assert {row["key"] for row in body["breakdowns"]["symbol"]} == {"AAPL", "MSFT"}


def test_it_gives_the_same_figures_as_the_page(api, owner_client, crew):
    body = api.get(f"{BASE}/pipelines/{crew.pk}/performance").json()
    html = owner_client.get(reverse("analytics:pipeline", args=[crew.pk])).content.decode()
    page_net = re.search(r'data-metric="net_pnl">.*?stat-value[^"]*">([^<]*)<', html, re.S)[1]
    page_pf = re.search(r'data-metric="profit_factor">.*?stat-value[^"]*">([^<]*)<', html, re.S)[1]
    assert page_net == f"+${body['metrics']['net_pnl']}"
    assert page_pf == f"{body['metrics']['profit_factor']:.2f}"


def test_it_gives_404_for_a_foreign_pipeline(outsider_api, crew):
    response = outsider_api.get(f"{BASE}/pipelines/{crew.pk}/performance")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_it_gives_the_outsider_none_of_the_owners_trades(outsider_api, crew):
    body = outsider_api.get(f"{BASE}/user/performance").json()
    assert body["metrics"]["trades"] == 0


def test_it_names_the_bad_field(api):
    response = api.get(f"{BASE}/user/performance", {"period": "5Y"})
    assert response.status_code == 422
    assert "period" in str(response.json()["detail"])
    response = api.get(f"{BASE}/user/performance", {"period": "CUSTOM"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "start"


def test_it_streams_csv_on_request(api, crew):
    response = api.get(f"{BASE}/user/performance", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["net_pnl"] for row in rows) == ["-40.00", "120.00", "60.00"]


def test_it_compares_pipelines(api, owner, crew):
    other = f.pipeline(owner, name="Other")
    f.closed_trade(owner, net="-25", pipeline=other)
    response = api.get(f"{BASE}/pipelines/compare", {"ids": f"{crew.pk},{other.pk}"})
    body = response.json()
    assert response.status_code == 200
    assert [p["metrics"]["net_pnl"] for p in body["pipelines"]] == ["140.00", "-25.00"]


def test_it_refuses_foreign_or_too_few_pipelines_in_a_comparison(api, outsider, crew):
    foreign = f.pipeline(outsider, name="Theirs")
    response = api.get(f"{BASE}/pipelines/compare", {"ids": f"{crew.pk},{foreign.pk}"})
    assert response.status_code == 404
    response = api.get(f"{BASE}/pipelines/compare", {"ids": str(crew.pk)})
    assert response.status_code == 422
    response = api.get(f"{BASE}/pipelines/compare", {"ids": f"{crew.pk},not-an-id"})
    assert response.status_code == 422


def test_it_lists_and_shows_reports_to_their_owner_only(api, outsider_api, owner, crew):
    from pipelines.models import PipelineExecution, Report

    run = PipelineExecution.objects.create(pipeline=crew, owner=owner, trading_mode="SIMULATION")
    report = Report.objects.create(
        owner=owner, pipeline=crew, execution=run, title="Run report", summary="ok"
    )
    listing = api.get("/api/v1/reports").json()
    assert [item["title"] for item in listing["items"]] == ["Run report"]
    assert api.get(f"/api/v1/reports/{report.pk}").json()["title"] == "Run report"
    assert outsider_api.get("/api/v1/reports").json()["items"] == []
    assert outsider_api.get(f"/api/v1/reports/{report.pk}").status_code == 404
    assert outsider_api.get(f"/api/v1/reports/{uuid.uuid4()}").status_code == 404


def test_it_is_in_the_openapi_docs(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/analytics/user/performance" in paths
    assert "/api/v1/analytics/pipelines/compare" in paths
    assert "/api/v1/analytics/pipelines/{pipeline_id}/performance" in paths
    assert "/api/v1/reports" in paths


def test_it_answers_in_a_fixed_number_of_queries(api, owner, crew, django_assert_num_queries):
    url = f"{BASE}/user/performance"
    api.get(url)
    # 6: the token's user is known from the first request (accounts/token_users.py).
    with django_assert_num_queries(6) as few:
        api.get(url)
    f.many_closed_trades(owner, 300, days=20, pipelines=[crew])
    with django_assert_num_queries(len(few.captured_queries)):
        api.get(url)
