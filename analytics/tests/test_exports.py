"""CSV and PDF exports: they download, stream, hold the scope's rows only, and the PDF's text
carries the figures the page shows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from analytics.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def crew(owner):
    crew = f.pipeline(owner, name="Momentum crew")
    now = timezone.now()
    f.closed_trade(owner, net="120", pipeline=crew, closed_at=now - timedelta(days=3))
    f.closed_trade(owner, net="-40", pipeline=crew, side="short", closed_at=now - timedelta(days=2))
    f.closed_trade(owner, net="60", pipeline=crew, symbol="MSFT", closed_at=now - timedelta(days=1))
    return crew


def _csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response.streaming
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_it_streams_the_trades_csv(owner_client, owner, outsider, crew):
    f.closed_trade(outsider, net="777")
    f.closed_trade(owner, net="5", mode="LIVE")
    rows = _csv(owner_client.get(reverse("analytics:export-trades")))
    assert [row["net_pnl"] for row in rows] == ["60.00", "-40.00", "120.00"]
    assert rows[0]["symbol"] == "MSFT" and rows[0]["mode"] == "SIMULATION"
    assert rows[0]["gross_pnl"] == "61.0000"  # net + commission


def test_it_filters_the_trades_csv_like_the_table(owner_client, crew):
    rows = _csv(owner_client.get(reverse("analytics:export-trades"), {"side": "short"}))
    assert [row["net_pnl"] for row in rows] == ["-40.00"]


def test_it_streams_the_equity_csv(owner_client, crew):
    rows = _csv(owner_client.get(reverse("analytics:export-equity"), {"period": "7D"}))
    assert rows[0]["equity"] == "100000.00"
    assert rows[-1]["equity"] == "100140.00"
    assert all(float(row["drawdown"]) <= 0 for row in rows)


def test_it_streams_the_costs_csv(owner_client, owner, crew):
    f.cost(owner, "0.40", pipeline=crew, agent_type="bias_agent", model="gpt-4o-mini")
    rows = _csv(owner_client.get(reverse("analytics:export-costs")))
    assert [(row["agent"], row["model"], row["total_cost"]) for row in rows] == [
        ("bias_agent", "gpt-4o-mini", "0.40000000")
    ]


def test_the_pdf_report_carries_the_figures(owner_client, crew):
    response = owner_client.get(reverse("analytics:export-pdf"), {"period": "30D"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Performance report" in text
    assert "no real money" in text
    assert "+$140.00" in text  # net P&L card
    assert "66.7%" in text  # win rate
    assert "4.50" in text  # profit factor: 180 / 40
    assert "MSFT" in text and "By close reason" in text


def test_a_pipeline_pdf_is_that_pipelines_only(owner_client, owner, crew):
    other = f.pipeline(owner, name="Other")
    f.closed_trade(owner, net="-500", pipeline=other)
    response = owner_client.get(reverse("analytics:export-pdf"), {"pipeline": crew.pk})
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "+$140.00" in text


def test_an_outsider_cannot_export_a_foreign_pipeline(crew, outsider):
    from django.test import Client

    client = Client()
    client.force_login(outsider)
    response = client.get(reverse("analytics:export-pdf"), {"pipeline": crew.pk})
    assert response.status_code == 404
    response = client.get(reverse("analytics:export-trades"), {"pipeline": crew.pk})
    assert response.status_code == 404


def test_it_streams_equity_after_each_trade(owner_client, crew):
    rows = _csv(owner_client.get(reverse("analytics:export-equity"), {"per": "trade"}))
    assert [row["equity"] for row in rows] == ["100120.00", "100080.00", "100140.00"]
