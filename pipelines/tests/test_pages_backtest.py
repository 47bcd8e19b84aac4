"""Backtest pages: the form and history, a refused start, a finished backtest's trades with why
each was entered, a sweep's table and heatmap; another user's pages are 404."""

from __future__ import annotations

import pytest
from django.test import Client

from pipelines.backtest.services import backtest_run
from pipelines.models import Backtest, BacktestSweep, Pipeline
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
