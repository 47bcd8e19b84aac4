"""A backtest's results through analytics: the Performance page's cards, equity and drawdown and
breakdowns computed by analytics' own code from the backtest's trades and equity; the Analytics
page links to them; the comparison takes backtests beside pipelines; owner-scoped."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from analytics import metrics
from analytics.tests import factories as f
from pipelines.backtest.checks import BacktestSettings
from pipelines.backtest.services import backtest_create, backtest_run
from pipelines.models import Backtest, BacktestTrade, Pipeline
from pipelines.tests.test_backtest_api import goog_csv
from pipelines.tests.test_backtest_engine import SMA_CROSS_GRAPH
from trading.marketdata.datasets import dataset_create_from_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(owner):
    return Pipeline.objects.create(owner=owner, name="SMA cross", graph=SMA_CROSS_GRAPH)


@pytest.fixture
def goog(owner):
    return dataset_create_from_csv(owner=owner, name="", symbol="GOOG", content=goog_csv())


def run(owner, pipeline, dataset, **settings) -> Backtest:
    backtest = backtest_create(
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        settings=BacktestSettings(commission_pct=Decimal("0.2"), **settings),
        enqueue=False,
    )
    backtest_run(backtest_id=backtest.pk)
    return Backtest.objects.get(pk=backtest.pk)


@pytest.fixture
def finished(owner, pipeline, goog):
    return run(owner, pipeline, goog)


def _card(html: str, key: str) -> str:
    match = re.search(rf'data-metric="{key}">.*?class="stat-value[^"]*">([^<]*)<', html, re.S)
    assert match, f"no {key} card"
    return match.group(1)


def _json_block(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no {element_id}"
    return json.loads(match.group(1))


def test_it_shows_a_backtest_on_the_performance_pages_cards(owner_client, finished):
    response = owner_client.get(reverse("analytics:backtest", args=[finished.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    closed = BacktestTrade.objects.filter(backtest=finished, is_open=False)
    net = sum(t.net_pnl for t in closed)
    book = metrics.trade_book(
        [{"net_pnl": t.net_pnl, "closed_at": t.exit_at, "opened_at": t.entry_at} for t in closed]
    )
    assert closed.count() == finished.trades_count > 40
    assert _card(html, "trades") == str(finished.trades_count)
    assert _card(html, "net_pnl") == f"+${net:,.2f}"
    assert _card(html, "win_rate") == f"{metrics.win_rate(book) * 100:.1f}%"
    series = _json_block(html, "analytics-series")
    # Marked-to-market equity, last value per day: it ends at the backtest's final equity and
    # starts from the capital the day before the first bar.
    assert series["equity"][0]["value"] == 10000.0
    assert Decimal(str(series["equity"][-1]["value"])) == finished.final_equity
    assert len(series["equity"]) == 2148 + 1
    assert min(point["value"] for point in series["drawdown"]) < 0
    for key in ("symbol", "weekday", "direction", "close_reason"):
        assert f'data-breakdown="{key}"' in html
    assert 'data-breakdown="hour"' not in html  # daily bars have no time of day
    assert "BACKTEST — history replayed, no real money" in html


def test_it_gives_the_backtest_page_the_figures_alone(owner_client, finished):
    page = owner_client.get(reverse("pipelines:backtest", args=[finished.pk])).content.decode()
    assert f'hx-get="/analytics/backtests/{finished.pk}/"' in page

    fragment = owner_client.get(
        reverse("analytics:backtest", args=[finished.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="backtest-figures"')
    assert "<html" not in fragment and 'data-testid="metric-cards"' in fragment


def test_it_says_a_waiting_backtest_has_no_results_yet(owner, owner_client, pipeline, goog):
    backtest = backtest_create(
        owner=owner, pipeline=pipeline, dataset=goog, settings=BacktestSettings(), enqueue=False
    )

    html = owner_client.get(reverse("analytics:backtest", args=[backtest.pk])).content.decode()

    assert 'data-testid="backtest-no-results"' in html
    assert 'data-testid="metric-cards"' not in html


def test_the_analytics_page_links_to_backtest_results(owner_client, finished, pipeline):
    for url in (
        reverse("analytics:performance"),
        reverse("analytics:pipeline", args=[pipeline.pk]),
    ):
        html = owner_client.get(url).content.decode()
        assert reverse("analytics:backtest", args=[finished.pk]) in html


def test_it_compares_backtests_with_each_other_and_the_pipelines_record(
    owner, owner_client, pipeline, goog, finished
):
    f.closed_trade(owner, net="120", pipeline=pipeline)
    half = run(owner, pipeline, goog, initial_cash=Decimal("5000"))

    html = owner_client.get(
        reverse("analytics:compare"),
        {"ids": [pipeline.pk], "backtests": [finished.pk, half.pk]},
    ).content.decode()

    table = html[html.index('data-testid="compare-table"') :]
    assert "SMA cross (simulation record)" in table
    assert table.count("backtest GOOG") == 2
    lines = _json_block(html, "compare-series")
    assert [line["data"][0]["value"] for line in lines] == [100.0, 100.0, 100.0]
    # Half the capital, the same signals: a different path, each measured on its own.
    assert lines[1]["data"][-1]["value"] != lines[2]["data"][-1]["value"]
    assert 'data-axis="elapsed"' in html


def test_it_refuses_a_comparison_of_one_or_of_a_backtest_without_results(
    owner, owner_client, pipeline, goog, finished
):
    waiting = backtest_create(
        owner=owner, pipeline=pipeline, dataset=goog, settings=BacktestSettings(), enqueue=False
    )
    url = reverse("analytics:compare")

    alone = owner_client.get(url, {"backtests": [finished.pk]})
    unfinished = owner_client.get(url, {"backtests": [finished.pk, waiting.pk]})
    malformed = owner_client.get(url, {"backtests": [finished.pk, "nope"]})

    assert alone.status_code == unfinished.status_code == malformed.status_code == 200
    assert b"Compare 2 to 5 pipelines or backtests." in alone.content
    assert b"has no results yet (pending)" in unfinished.content
    assert b"is not a backtest id" in malformed.content
    for response in (alone, unfinished, malformed):
        assert b'data-testid="compare-table"' not in response.content


def test_another_user_gets_404(finished, pipeline, outsider):
    client = Client()
    client.force_login(outsider)
    mine = f.pipeline(outsider, name="Mine")

    assert client.get(reverse("analytics:backtest", args=[finished.pk])).status_code == 404
    compared = client.get(
        reverse("analytics:compare"), {"ids": [mine.pk], "backtests": [finished.pk]}
    )
    assert compared.status_code == 404
    assert str(finished.pk) not in client.get(reverse("analytics:performance")).content.decode()


def test_the_api_answers_the_same_figures(api, finished, owner, owner_client):
    answer = api.get(f"/api/v1/analytics/backtests/{finished.pk}/performance")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["mode"], body["no_real_money"]) == ("BACKTEST", True)
    assert body["metrics"]["trades"] == finished.trades_count
    assert Decimal(body["equity"][-1]["equity"]) == finished.final_equity
    html = owner_client.get(reverse("analytics:backtest", args=[finished.pk])).content.decode()
    assert _card(html, "net_pnl") == f"+${Decimal(body['metrics']['net_pnl']):,.2f}"


def test_the_api_says_409_until_there_are_results_and_404_to_others(
    api, owner, pipeline, goog, finished, outsider_api
):
    waiting = backtest_create(
        owner=owner, pipeline=pipeline, dataset=goog, settings=BacktestSettings(), enqueue=False
    )
    assert api.get(f"/api/v1/analytics/backtests/{waiting.pk}/performance").status_code == 409
    foreign = outsider_api.get(f"/api/v1/analytics/backtests/{finished.pk}/performance")
    assert foreign.status_code == 404
