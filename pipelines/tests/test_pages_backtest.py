"""Backtest pages: the form and history, a refused start, a finished backtest's trades with why
each was entered (in keyset pages of 50 for a long backtest), a sweep's table and heatmap;
another user's pages are 404."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from pipelines.backtest.services import backtest_run
from pipelines.models import Backtest, BacktestStatus, BacktestSweep, BacktestTrade, Pipeline
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


def settings_form(dataset, **extra):
    return {
        "dataset": str(dataset.pk),
        "initial_cash": "10000",
        "commission_pct": "0.2",
        "commission_per_share": "0",
        "slippage_pct": "0",
        "fill_at": "next_open",
        "side": "long",
        **extra,
    }


def test_it_shows_the_form_and_an_empty_history(owner_client, pipeline):
    response = owner_client.get(f"/pipelines/{pipeline.pk}/backtests/")

    assert response.status_code == 200
    assert b"No history yet" in response.content
    assert b"No backtests yet" in response.content


def test_a_refused_start_says_why_and_starts_nothing(owner_client, pipeline, goog):
    response = owner_client.post(
        f"/pipelines/{pipeline.pk}/backtests/", settings_form(goog, start="2030-01-01")
    )

    assert response.status_code == 422
    assert b"no bars in that range" in response.content
    assert Backtest.objects.count() == 0


def test_a_sweep_shows_every_combination_and_a_heatmap(owner_client, pipeline, goog):
    response = owner_client.post(
        f"/pipelines/{pipeline.pk}/sweeps/",
        settings_form(
            goog,
            param_1="risk.equity_fraction_pct",
            values_1="50, 100",
            param_2="trade.exit_logic",
            values_2="OR, AND",
        ),
    )

    sweep = BacktestSweep.objects.get()
    assert response.status_code == 302 and response.url == f"/sweeps/{sweep.pk}/"
    assert sweep.combinations == 4
    for backtest in sweep.backtests.all():
        backtest_run(backtest_id=backtest.pk)
    page = owner_client.get(f"/sweeps/{sweep.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "4 of 4 combinations finished" in html
    assert 'data-testid="sweep-heatmap"' in html
    assert html.count("$63,341.19") == 4  # two cells and two table rows (exit_logic: OR = AND)


def test_a_finished_backtest_s_trades_say_why_each_was_entered(owner_client, pipeline, goog):
    owner_client.post(f"/pipelines/{pipeline.pk}/backtests/", settings_form(goog))
    backtest = Backtest.objects.get()
    backtest_run(backtest_id=backtest.pk)
    first = backtest.trades.order_by("entry_bar").first()

    page = owner_client.get(f"/backtests/{backtest.pk}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert first.reasoning.startswith("Trigger: sma_10 crosses above sma_20 (1d).")
    assert html.count('data-testid="trade-reasoning"') == backtest.trades.count() == 47
    assert f"<summary>Reasoning</summary>{first.reasoning}</details>" in html


def test_another_user_gets_404(pipeline, goog, outsider):
    client = Client()
    client.force_login(outsider)
    backtest = Backtest.objects.create(
        owner=pipeline.owner, pipeline=pipeline, dataset=goog, initial_cash=10000
    )

    assert client.get(f"/pipelines/{pipeline.pk}/backtests/").status_code == 404
    assert client.get(f"/backtests/{backtest.pk}/").status_code == 404
    assert client.post(f"/backtests/{backtest.pk}/cancel/").status_code == 404
    assert Backtest.objects.get(pk=backtest.pk).status == "pending"


@pytest.fixture
def long_backtest(pipeline, goog):
    """A finished backtest with 120 trades, three to a bar (the id orders those), stored out of
    order so only the page's own sort can put them right."""
    backtest = Backtest.objects.create(
        owner=pipeline.owner,
        pipeline=pipeline,
        dataset=goog,
        initial_cash=10000,
        status=BacktestStatus.COMPLETED,
    )
    start = goog.starts_at
    BacktestTrade.objects.bulk_create(
        BacktestTrade(
            backtest=backtest,
            symbol="GOOG",
            side="long",
            quantity=1,
            entry_bar=bar,
            entry_at=start + timedelta(days=bar),
            entry_price=Decimal("100"),
            stop_loss=Decimal("95"),
            exit_bar=bar + 1,
            exit_at=start + timedelta(days=bar + 1),
            exit_price=Decimal("101"),
            net_pnl=Decimal("1"),
            close_reason="target_1_hit",
            reasoning=f"Trigger on bar {bar}, leg {leg}.",
        )
        for bar in reversed(range(40))
        for leg in range(3)
    )
    return backtest


def table_order(backtest) -> list[int]:
    return list(
        BacktestTrade.objects.filter(backtest=backtest)
        .order_by("entry_bar", "id")
        .values_list("pk", flat=True)
    )


def shown_trades(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="trade-(\d+)">', html)]


def pager_link(html: str, testid: str) -> str | None:
    match = re.search(rf'<a href="(\?[^"#]*)#trades"[^>]*data-testid="{testid}"', html)
    return match.group(1) if match else None


def test_it_shows_a_long_backtest_s_first_fifty_trades_in_the_order_entered(
    owner_client, long_backtest
):
    html = owner_client.get(f"/backtests/{long_backtest.pk}/").content.decode()

    assert shown_trades(html) == table_order(long_backtest)[:50]
    assert "1–50 of 120 trades, in the order they were entered" in html
    assert html.count('data-testid="trade-reasoning"') == 50
    assert "<summary>Reasoning</summary>Trigger on bar 0, leg 0.</details>" in html
    assert pager_link(html, "pager-newer") is not None  # Later →
    assert pager_link(html, "pager-older") is None  # nothing earlier than the first trades


def test_it_pages_on_to_the_last_trade_without_overlap_and_back(owner_client, long_backtest):
    url = f"/backtests/{long_backtest.pk}/"
    pages, query = [], ""
    while query is not None:
        html = owner_client.get(url + query).content.decode()
        pages.append(html)
        query = pager_link(html, "pager-newer")

    shown = [shown_trades(html) for html in pages]
    assert [len(rows) for rows in shown] == [50, 50, 20]
    assert [pk for rows in shown for pk in rows] == table_order(long_backtest)  # each once
    assert "51–100 of 120 trades" in pages[1] and "101–120 of 120 trades" in pages[2]
    assert "Trigger on bar 39, leg 2." in pages[2]
    back = owner_client.get(url + pager_link(pages[2], "pager-older")).content.decode()
    assert shown_trades(back) == shown[1]
    first = owner_client.get(url + pager_link(back, "pager-older")).content.decode()
    assert shown_trades(first) == shown[0] and pager_link(first, "pager-older") is None


@pytest.mark.parametrize(
    "query",
    [
        "?newer=abc",
        "?older=12-",
        "?newer=-1-5",
        "?older=1e5-2",
        "?newer=" + "9" * 19 + "-1",
        "?newer=%00",
        "?older=&newer=",
    ],
)
def test_a_cursor_that_does_not_parse_shows_the_first_page(owner_client, long_backtest, query):
    response = owner_client.get(f"/backtests/{long_backtest.pk}/{query}")

    assert response.status_code == 200
    assert shown_trades(response.content.decode()) == table_order(long_backtest)[:50]


def test_a_cursor_past_the_last_trade_is_an_empty_page_with_a_way_back(owner_client, long_backtest):
    big = "9" * 18
    response = owner_client.get(f"/backtests/{long_backtest.pk}/?newer={big}-{big}")

    html = response.content.decode()
    assert response.status_code == 200
    assert shown_trades(html) == []
    assert "No more trades this way" in html and 'href="?#trades"' in html
    older = owner_client.get(f"/backtests/{long_backtest.pk}/?older={big}-{big}")
    assert shown_trades(older.content.decode()) == table_order(long_backtest)[-50:]


def test_another_user_gets_404_on_any_page_of_the_trades(long_backtest, outsider):
    client = Client()
    client.force_login(outsider)
    cursor = f"{long_backtest.trades.order_by('entry_bar').first().entry_bar}-1"

    assert client.get(f"/backtests/{long_backtest.pk}/").status_code == 404
    assert client.get(f"/backtests/{long_backtest.pk}/?newer={cursor}").status_code == 404


def test_it_offers_the_results_link_only_where_the_results_are_not_shown(
    owner_client, long_backtest
):
    url = f"/backtests/{long_backtest.pk}/"
    page = owner_client.get(url).content.decode()
    refresh = page[page.index('id="backtest-progress"') :]
    refresh_url = re.search(r'hx-get="([^"]+)"', refresh).group(1)

    # The page shows the results: its card, refreshed when the live socket connects, says
    # nothing more; a card that watched the backtest run offers the link.
    on_results = owner_client.get(refresh_url, headers={"HX-Request": "true"}).content.decode()
    watched = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert refresh_url == f"{url}?shown=1"
    assert 'data-testid="show-results"' not in page + on_results
    assert 'data-testid="show-results"' in watched
