"""Walk-forward from the page and the API: checked before it is queued, run by the worker's
service (progress per window, cancel between windows), only out-of-sample results reported with
the combinations tried; the page is pushed its own partial; another user's analysis is 404."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from pipelines.backtest.checks import BacktestSettings
from pipelines.backtest.live import backtest_live_fragments
from pipelines.backtest.walkforward import walk_forward
from pipelines.backtest.walkforward_services import walkforward_create, walkforward_run
from pipelines.consumers import user_page_shows
from pipelines.models import BacktestWalkForward, Pipeline
from pipelines.tests.test_backtest_api import goog_csv
from pipelines.tests.test_backtest_engine import SMA_CROSS_GRAPH
from trading.marketdata.datasets import dataset_create_from_csv

pytestmark = pytest.mark.django_db

GRID = {"risk.equity_fraction_pct": [50, 100]}


@pytest.fixture
def pipeline(owner):
    return Pipeline.objects.create(owner=owner, name="SMA cross", graph=SMA_CROSS_GRAPH)


@pytest.fixture
def goog(owner):
    return dataset_create_from_csv(owner=owner, name="", symbol="GOOG", content=goog_csv())


def body(pipeline, dataset, **extra):
    return {
        "pipeline_id": str(pipeline.pk),
        "dataset_id": str(dataset.pk),
        "commission_pct": "0.2",
        "grid": GRID,
        "in_sample_bars": 500,
        "out_of_sample_bars": 250,
        **extra,
    }


def test_it_reports_out_of_sample_windows_only_with_the_combinations_tried(api, pipeline, goog):
    created = api.post(
        "/api/v1/walkforwards", body(pipeline, goog), content_type="application/json"
    )

    assert created.status_code == 201, created.content
    assert created.json()["status"] == "pending"
    assert (created.json()["windows_total"], created.json()["combinations_tried"]) == (6, 2)
    walkforward_run(walkforward_id=created.json()["id"])
    answer = api.get(f"/api/v1/walkforwards/{created.json()['id']}").json()

    assert answer["status"] == "completed" and answer["windows_done"] == 6
    assert "2 combinations were tried" in answer["warning"]
    windows = answer["windows"]
    assert len(windows) == 6
    assert all("in_sample_return_pct" not in window for window in windows)
    assert windows[0]["out_of_sample"] == [500, 750]
    # GOOG.index[500] and [749]: the bars the out-of-sample window covers.
    assert (windows[0]["out_of_sample_from"], windows[0]["out_of_sample_to"]) == (
        "2006-08-14",
        "2007-08-10",
    )
    growth = 1.0
    for window in windows:
        growth *= 1 + window["out_of_sample_return_pct"] / 100
    assert answer["out_of_sample_return_pct"] == pytest.approx((growth - 1) * 100, abs=1e-3)
    # The same windows as the walk-forward function over the same bars and costs.
    from pipelines.backtest.engine import Costs
    from pipelines.backtest.services import history_between

    direct = walk_forward(
        history=history_between(goog, None, None),
        graph=SMA_CROSS_GRAPH,
        schedule=None,
        grid=GRID,
        costs=Costs(initial_cash=10_000, commission_pct=0.2),
        in_sample_bars=500,
        out_of_sample_bars=250,
    )
    assert [w["parameters"] for w in windows] == [w.parameters for w in direct.windows]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"grid": {}}, "grid"),
        ({"grid": {"nope.field": [1]}}, "grid"),
        ({"in_sample_bars": 2000, "out_of_sample_bars": 500}, "in_sample_bars"),
        ({"in_sample_bars": 1}, "in_sample_bars"),
    ],
)
def test_it_refuses_a_walkforward_that_cannot_run(api, pipeline, goog, extra, field):
    response = api.post(
        "/api/v1/walkforwards", body(pipeline, goog, **extra), content_type="application/json"
    )

    assert response.status_code == 422
    assert field in str(response.json()["detail"])
    assert BacktestWalkForward.objects.count() == 0


def test_cancel_stops_it_between_windows_and_keeps_the_windows_done(owner, pipeline, goog):
    walkforward = walkforward_create(
        owner=owner,
        pipeline=pipeline,
        dataset=goog,
        grid=GRID,
        settings=BacktestSettings(commission_pct=Decimal("0.2")),
        in_sample_bars=500,
        out_of_sample_bars=250,
        enqueue=False,
    )
    # Asked to stop while running: it finishes the window it is in, then stops.
    BacktestWalkForward.objects.filter(pk=walkforward.pk).update(cancel_requested=True)

    assert walkforward_run(walkforward_id=walkforward.pk) == "cancelled"
    walkforward.refresh_from_db()
    assert (walkforward.windows_done, len(walkforward.windows)) == (1, 1)
    assert walkforward_run(walkforward_id=walkforward.pk) is None  # a redelivery claims nothing


def test_the_page_starts_it_shows_progress_and_the_results(owner, owner_client, pipeline, goog):
    response = owner_client.post(
        f"/pipelines/{pipeline.pk}/walkforwards/",
        {
            "dataset": str(goog.pk),
            "initial_cash": "10000",
            "commission_pct": "0.2",
            "commission_per_share": "0",
            "slippage_pct": "0",
            "fill_at": "next_open",
            "side": "long",
            "param_1": "risk.equity_fraction_pct",
            "values_1": "50, 100",
            "in_sample_bars": "500",
            "out_of_sample_bars": "250",
        },
    )

    walkforward = BacktestWalkForward.objects.get()
    assert response.status_code == 302 and response.url == f"/walkforwards/{walkforward.pk}/"
    page = owner_client.get(response.url).content.decode()
    assert "0 of 6 windows (0%)" in page and 'data-testid="cancel-walkforward"' in page
    assert f"walkforward:{walkforward.pk}" in page
    assert "2 combinations tried in each in-sample window" in page

    walkforward_run(walkforward_id=walkforward.pk)
    pushed = backtest_live_fragments(
        user=owner,
        payload={"walkforward_id": str(walkforward.pk), "status": "completed"},
        topics={f"walkforward:{walkforward.pk}"},
    )
    assert user_page_shows(
        {"event": "backtest_progress", "walkforward_id": str(walkforward.pk)},
        {f"walkforward:{walkforward.pk}"},
    )
    assert len(pushed) == 1 and 'hx-swap-oob="true"' in pushed[0]
    assert "6 of 6 windows (100%)" in pushed[0]
    assert pushed[0].count("<tr>") == 1 + 6  # the head and one row per out-of-sample window
    history = owner_client.get(f"/pipelines/{pipeline.pk}/backtests/").content.decode()
    assert f"/walkforwards/{walkforward.pk}/" in history


def test_a_refused_start_from_the_page_says_why(owner_client, pipeline, goog):
    response = owner_client.post(
        f"/pipelines/{pipeline.pk}/walkforwards/",
        {
            "dataset": str(goog.pk),
            "initial_cash": "10000",
            "commission_pct": "0.2",
            "commission_per_share": "0",
            "slippage_pct": "0",
            "fill_at": "next_open",
            "side": "long",
            "in_sample_bars": "500",
            "out_of_sample_bars": "250",
        },
        follow=True,
    )

    assert b"The walk-forward was not started (grid)" in response.content
    assert BacktestWalkForward.objects.count() == 0


def test_another_user_gets_404(owner, pipeline, goog, outsider):
    walkforward = walkforward_create(
        owner=owner,
        pipeline=pipeline,
        dataset=goog,
        grid=GRID,
        settings=BacktestSettings(),
        in_sample_bars=500,
        out_of_sample_bars=250,
        enqueue=False,
    )
    client = Client()
    client.force_login(outsider)

    assert client.get(f"/walkforwards/{walkforward.pk}/").status_code == 404
    assert client.post(f"/walkforwards/{walkforward.pk}/cancel/").status_code == 404
    assert BacktestWalkForward.objects.get(pk=walkforward.pk).status == "pending"
    assert (
        backtest_live_fragments(
            user=outsider,
            payload={"walkforward_id": str(walkforward.pk)},
            topics={f"walkforward:{walkforward.pk}"},
        )
        == []
    )
