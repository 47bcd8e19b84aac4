"""The Analytics page, a pipeline's Performance tab, the comparison, reports and costs pages:
cards, charts, breakdowns and trades for the owner only; period and mode switch in place;
fixed query counts."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def crew(owner):
    return f.pipeline(owner, name="Momentum crew")


@pytest.fixture
def traded(owner, crew):
    now = timezone.now()
    f.closed_trade(owner, net="120", pipeline=crew, closed_at=now - timedelta(days=3))
    f.closed_trade(owner, net="-40", pipeline=crew, side="short", closed_at=now - timedelta(days=2))
    f.closed_trade(owner, net="60", pipeline=crew, symbol="MSFT", closed_at=now - timedelta(days=1))
    return crew


def _card(html: str, key: str) -> str:
    match = re.search(rf'data-metric="{key}">.*?class="stat-value[^"]*">([^<]*)<', html, re.S)
    assert match, f"no {key} card"
    return match.group(1)


def _json_block(html: str, element_id: str):
    return json.loads(re.search(rf'id="{element_id}"[^>]*>(.*?)</script>', html, re.S).group(1))


def test_it_enables_analytics_in_the_navigation(owner_client):
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("analytics:performance")}"' in html


def test_it_shows_cards_chart_breakdowns_and_trades(owner_client, traded):
    response = owner_client.get(reverse("analytics:performance"))
    html = response.content.decode()
    assert response.status_code == 200
    assert _card(html, "net_pnl") == "+$140.00"
    assert _card(html, "trades") == "3"
    assert _card(html, "win_rate") == "66.7%"
    assert "data-equity-chart" in html and "data-drawdown-chart" in html
    series = _json_block(html, "analytics-series")
    assert series["equity"][-1]["value"] == 100140.0
    assert 'data-breakdown="symbol"' in html and 'data-breakdown="close_reason"' in html
    assert html.count('<td data-label="Symbol"') == 3
    assert "SIMULATION — no real money" in html


def test_a_new_user_sees_how_to_get_data(owner_client):
    html = owner_client.get(reverse("analytics:performance")).content.decode()
    assert 'data-testid="analytics-empty"' in html
    assert "Run a pipeline in simulation" in html


def test_another_user_sees_none_of_it(traded, outsider):
    from django.test import Client

    client = Client()
    client.force_login(outsider)
    html = client.get(reverse("analytics:performance")).content.decode()
    assert 'data-testid="analytics-empty"' in html
    assert "Momentum crew" not in html
    assert client.get(reverse("analytics:pipeline", args=[traded.pk])).status_code == 404


def test_it_never_mixes_live_with_simulation(owner, owner_client, traded):
    f.closed_trade(owner, net="999", mode="LIVE", pipeline=traded)
    sim = owner_client.get(reverse("analytics:performance")).content.decode()
    live = owner_client.get(reverse("analytics:performance"), {"mode": "LIVE"}).content.decode()
    assert _card(sim, "net_pnl") == "+$140.00"
    assert _card(live, "net_pnl") == "+$999.00"
    assert "no real money" not in live and "LIVE — real money" in live


def test_it_switches_period_in_place_with_htmx(owner, owner_client, traded):
    f.closed_trade(owner, net="500", pipeline=traded, closed_at=timezone.now() - timedelta(days=60))
    response = owner_client.get(
        reverse("analytics:performance"),
        {"period": "7D"},
        headers={"HX-Request": "true", "HX-Target": "analytics-body"},
    )
    html = response.content.decode()
    assert "<html" not in html  # the partial only
    assert _card(html, "net_pnl") == "+$140.00"
    html = owner_client.get(
        reverse("analytics:performance"),
        {"period": "90D"},
        headers={"HX-Request": "true", "HX-Target": "analytics-body"},
    ).content.decode()
    assert _card(html, "net_pnl") == "+$640.00"


def test_it_refreshes_the_live_partial_for_the_scope_on_screen(owner_client, traded):
    html = owner_client.get(
        reverse("analytics:performance"),
        {"period": "ALL"},
        headers={"HX-Request": "true", "HX-Target": "analytics-live"},
    ).content.decode()
    assert html.lstrip().startswith('<div id="analytics-live"')
    assert "period=ALL" in html


def test_it_explains_a_bad_period_instead_of_failing(owner_client, traded):
    response = owner_client.get(reverse("analytics:performance"), {"period": "5Y"})
    assert response.status_code == 200
    assert "period: period must be one of" in response.content.decode()


def test_it_filters_the_trades_table(owner_client, traded):
    html = owner_client.get(
        reverse("analytics:performance"),
        {"symbol": "msft"},
        headers={"HX-Request": "true", "HX-Target": "analytics-trades"},
    ).content.decode()
    assert html.count('<td data-label="Symbol"') == 1
    assert "MSFT" in html


def test_it_shows_a_pipelines_performance_tab(owner, owner_client, traded):
    other = f.pipeline(owner, name="Other")
    f.closed_trade(owner, net="-500", pipeline=other)
    html = owner_client.get(reverse("analytics:pipeline", args=[traded.pk])).content.decode()
    assert _card(html, "net_pnl") == "+$140.00"
    detail = owner_client.get(reverse("pipelines:detail", args=[traded.pk])).content.decode()
    assert reverse("analytics:pipeline", args=[traded.pk]) in detail


def test_it_compares_pipelines_side_by_side(owner, owner_client, traded):
    other = f.pipeline(owner, name="Mean reversion")
    f.closed_trade(owner, net="-25", pipeline=other)
    html = owner_client.get(
        reverse("analytics:compare"), {"ids": [traded.pk, other.pk]}
    ).content.decode()
    table = html[html.index('data-testid="compare-table"') :]
    assert "Momentum crew" in table and "Mean reversion" in table
    assert "+$140.00" in table and "−$25.00" in table
    lines = _json_block(html, "compare-series")
    assert [line["data"][0]["value"] for line in lines] == [100.0, 100.0]


def test_it_refuses_to_compare_a_foreign_pipeline(traded, outsider):
    from django.test import Client

    client = Client()
    client.force_login(outsider)
    mine = f.pipeline(outsider, name="Mine")
    response = client.get(reverse("analytics:compare"), {"ids": [mine.pk, traded.pk]})
    assert response.status_code == 404


def test_it_lists_reports(owner, owner_client, crew):
    from pipelines.models import PipelineExecution, Report

    run = PipelineExecution.objects.create(pipeline=crew, owner=owner, trading_mode="SIMULATION")
    Report.objects.create(
        owner=owner, pipeline=crew, execution=run, title="Run of Momentum crew", summary="ok"
    )
    html = owner_client.get(reverse("analytics:reports")).content.decode()
    assert "Run of Momentum crew" in html
    report = Report.objects.get(title="Run of Momentum crew")
    assert reverse("pipelines:report", args=[report.pk]) in html
    page = owner_client.get(reverse("pipelines:report", args=[report.pk])).content.decode()
    assert 'data-testid="print-report"' in page  # its PDF/print version


def test_it_shows_costs_per_day_pipeline_agent_and_model(owner, owner_client, crew):
    f.cost(owner, "0.40", pipeline=crew, agent_type="bias_agent", model="gpt-4o-mini")
    f.cost(owner, "0.15", pipeline=crew, agent_type="strategy_agent")
    html = owner_client.get(reverse("analytics:costs")).content.decode()
    assert re.search(r'data-testid="cost-total"[^>]*>\$0\.55<', html)
    assert "gpt-4o-mini" in html and "Momentum crew" in html


def test_it_answers_in_a_fixed_number_of_queries(
    owner, owner_client, crew, django_assert_num_queries
):
    url = reverse("analytics:performance")
    owner_client.get(url)  # warm the session
    f.many_closed_trades(owner, 30, days=20, pipelines=[crew])
    # 12: the page header lists the user's backtest results (one query).
    with django_assert_num_queries(12) as few:
        owner_client.get(url)
    f.many_closed_trades(owner, 300, days=20, pipelines=[crew], seed=3)
    with django_assert_num_queries(len(few.captured_queries)):
        owner_client.get(url)


def test_it_counts_pnl_after_model_costs(owner, owner_client, crew):
    from pipelines.models import PipelineExecution

    run = PipelineExecution.objects.create(pipeline=crew, owner=owner, trading_mode="SIMULATION")
    f.closed_trade(owner, net="40", pipeline=crew)
    f.cost(owner, "55", pipeline=crew, execution=run, model="gpt-4o")
    html = owner_client.get(reverse("analytics:performance")).content.decode()
    assert _card(html, "pnl_after_costs") == "−$15.00"
    assert "model costs ate it" in html
