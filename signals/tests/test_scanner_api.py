"""Scanners API (§18.4): create, list, get, update, delete — owner-scoped, 409 while in use."""

from __future__ import annotations

import pytest

from pipelines.models import Pipeline, PipelineStatus
from signals.models import Scanner
from signals.tests.factories import ScannerFactory, signal_pipeline

pytestmark = pytest.mark.django_db


def test_it_creates_a_scanner_with_clean_tickers(api, owner):
    response = api.post(
        "/api/v1/scanners", {"name": " Tech stocks ", "tickers": ["aapl", " MSFT", "AAPL", "nvda"]}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["tickers"], body["scanner_type"]) == (
        "Tech stocks",
        ["AAPL", "MSFT", "NVDA"],
        "manual",
    )
    scanner = Scanner.objects.get(pk=body["id"])
    assert (scanner.owner, scanner.tickers) == (owner, ["AAPL", "MSFT", "NVDA"])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "tickers": ["AAPL", "not a ticker"]}, "tickers"),
        ({"name": "x", "tickers": []}, "tickers"),
        ({"name": "   ", "tickers": ["AAPL"]}, "name"),
        ({"name": "x", "tickers": ["AAPL"], "scanner_type": "filter"}, "scanner_type"),
    ],
)
def test_it_refuses_an_invalid_scanner_naming_the_field(api, payload, field):
    response = api.post("/api/v1/scanners", payload)

    assert response.status_code == 422
    assert field in {loc for error in response.json()["detail"] for loc in error["loc"]}
    assert not Scanner.objects.exists()


def test_it_lists_only_the_callers_scanners_with_pipeline_counts(api, owner, outsider):
    scanner = ScannerFactory(owner=owner, name="Mine")
    ScannerFactory(owner=outsider, name="Theirs")
    signal_pipeline(owner=owner, scanner=scanner)

    response = api.get("/api/v1/scanners")

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["name"], i["pipeline_count"], i["active_pipeline_count"]) for i in items] == [
        ("Mine", 1, 1)
    ]


def test_it_updates_a_scanner(api, owner):
    scanner = ScannerFactory(owner=owner, name="Old", tickers=["AAPL"])

    response = api.put(f"/api/v1/scanners/{scanner.pk}", {"name": "New", "tickers": ["tsla"]})

    assert response.status_code == 200, response.content
    scanner.refresh_from_db()
    assert (scanner.name, scanner.tickers) == ("New", ["TSLA"])
    assert api.get(f"/api/v1/scanners/{scanner.pk}").json()["tickers"] == ["TSLA"]


def test_an_outsider_gets_404_and_changes_nothing(outsider_api, owner):
    scanner = ScannerFactory(owner=owner, name="Mine", tickers=["AAPL"])

    assert outsider_api.get(f"/api/v1/scanners/{scanner.pk}").status_code == 404
    assert (
        outsider_api.put(f"/api/v1/scanners/{scanner.pk}", {"tickers": ["TSLA"]}).status_code == 404
    )
    assert outsider_api.delete(f"/api/v1/scanners/{scanner.pk}").status_code == 404
    scanner.refresh_from_db()
    assert (scanner.name, scanner.tickers) == ("Mine", ["AAPL"])


def test_anonymous_callers_get_401(anon_api):
    assert anon_api.get("/api/v1/scanners").status_code == 401


def test_deleting_a_scanner_an_active_pipeline_uses_is_refused_with_409(api, owner):
    scanner = ScannerFactory(owner=owner, name="In use")
    pipeline = signal_pipeline(owner=owner, scanner=scanner, name="Golden AAPL")

    response = api.delete(f"/api/v1/scanners/{scanner.pk}")

    assert response.status_code == 409
    assert "Golden AAPL" in response.json()["detail"]
    assert Scanner.objects.filter(pk=scanner.pk).exists()
    pipeline.refresh_from_db()
    assert pipeline.scanner_id == scanner.pk


def test_a_scanner_only_inactive_pipelines_use_can_be_deleted(api, owner):
    scanner = ScannerFactory(owner=owner)
    pipeline = signal_pipeline(owner=owner, scanner=scanner, status=PipelineStatus.PAUSED)

    response = api.delete(f"/api/v1/scanners/{scanner.pk}")

    assert response.status_code == 204
    assert not Scanner.objects.filter(pk=scanner.pk).exists()
    assert Pipeline.objects.get(pk=pipeline.pk).scanner_id is None
