"""A sweep's page: live progress (combinations finished of all, ETA) pushed over the websocket
as the page's own partial, Cancel (waiting combinations never run), the sortable table and the
heatmap; another user's sweep is 404."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from pipelines.backtest.checks import BacktestSettings
from pipelines.backtest.live import backtest_live_fragments
from pipelines.backtest.services import backtest_run
from pipelines.backtest.sweep_services import backtest_chunk_run, sweep_create
from pipelines.consumers import user_page_shows
from pipelines.models import Backtest, BacktestSweep, Pipeline
from pipelines.tests.test_backtest_api import goog_csv
from pipelines.tests.test_backtest_engine import SMA_CROSS_GRAPH
from trading.marketdata.datasets import dataset_create_from_csv

pytestmark = pytest.mark.django_db

GRID = {"risk.equity_fraction_pct": [25, 50, 100], "trade.exit_logic": ["OR", "AND"]}


@pytest.fixture
def sweep(owner, django_capture_on_commit_callbacks):
    pipeline = Pipeline.objects.create(owner=owner, name="SMA cross", graph=SMA_CROSS_GRAPH)
    goog = dataset_create_from_csv(owner=owner, name="", symbol="GOOG", content=goog_csv())
    # The Celery group is sent after commit: not executed here, the test runs the chunks.
    with django_capture_on_commit_callbacks(execute=False):
        return sweep_create(
            owner=owner,
            pipeline=pipeline,
            dataset=goog,
            grid=GRID,
            settings=BacktestSettings(commission_pct=Decimal("0.2")),
            chunk_size=2,
        )


def test_it_shows_progress_and_pushes_it_when_a_combination_finishes(owner, owner_client, sweep):
    page = owner_client.get(f"/sweeps/{sweep.pk}/").content.decode()
    assert "0 of 6 combinations finished (0%)" in page
    assert f"sweep:{sweep.pk}" in page  # the page's websocket topic
    assert 'data-testid="cancel-sweep"' in page

    first = sweep.backtests.order_by("created_at").first()
    backtest_run(backtest_id=first.pk)
    topics = {f"sweep:{sweep.pk}"}
    finished_payload = {
        "backtest_id": str(first.pk),
        "sweep_id": str(sweep.pk),
        "status": "completed",
    }
    pushed = backtest_live_fragments(user=owner, payload=finished_payload, topics=topics)
    # The socket's filter lets the event through to the page watching this sweep.
    assert user_page_shows({"event": "backtest_progress", **finished_payload}, topics)
    assert len(pushed) == 1
    assert 'id="sweep-live"' in pushed[0] and 'hx-swap-oob="true"' in pushed[0]
    assert "1 of 6 combinations finished (16%)" in pushed[0]
    assert "s left" in pushed[0]  # an ETA once one has finished
    # Progress of a running combination redraws nothing; another sweep's page hears nothing.
    running = {"backtest_id": str(first.pk), "sweep_id": str(sweep.pk), "status": "running"}
    assert backtest_live_fragments(user=owner, payload=running, topics=topics) == []
    assert not user_page_shows({"event": "backtest_progress", **running}, topics)
    finished = {**running, "status": "completed"}
    assert backtest_live_fragments(user=owner, payload=finished, topics={"sweep:other"}) == []


def test_cancel_stops_the_waiting_combinations(owner_client, sweep):
    ids = [str(pk) for pk in sweep.backtests.order_by("created_at").values_list("pk", flat=True)]
    backtest_chunk_run(backtest_ids=ids[:2])  # one chunk ran before the trader cancelled

    response = owner_client.post(f"/sweeps/{sweep.pk}/cancel/")

    assert response.status_code == 302
    sweep.refresh_from_db()
    assert sweep.status == "cancelled"
    backtest_chunk_run(backtest_ids=ids[2:])  # the later chunks claim nothing
    statuses = list(
        Backtest.objects.filter(pk__in=ids).order_by("created_at").values_list("status", flat=True)
    )
    assert statuses == ["completed"] * 2 + ["cancelled"] * 4
    assert BacktestSweep.objects.get(pk=sweep.pk).status == "cancelled"
    page = owner_client.get(f"/sweeps/{sweep.pk}/").content.decode()
    assert "6 of 6 combinations finished (100%) · 4 cancelled" in page
    assert 'data-testid="cancel-sweep"' not in page


def test_the_table_sorts_by_each_column(owner_client, sweep):
    for backtest in sweep.backtests.all():
        backtest_run(backtest_id=backtest.pk)
    fractions = {}
    for sort in ("equity", "return", "drawdown", "trades", "pnl"):
        html = owner_client.get(f"/sweeps/{sweep.pk}/", {"sort": sort}).content.decode()
        table = html[html.index('data-testid="sweep-table"') :]
        fractions[sort] = [int(part.split("</code>")[0]) for part in table.split("<code>")[1::2]]
    # All-in earns most and falls furthest; the smallest stake falls least.
    assert fractions["equity"][:2] == [100, 100] and fractions["return"][:2] == [100, 100]
    assert fractions["drawdown"][:2] == [25, 25]
    assert sorted(fractions["trades"]) == [25, 25, 50, 50, 100, 100]


def test_another_user_gets_404(sweep, outsider):
    client = Client()
    client.force_login(outsider)

    assert client.get(f"/sweeps/{sweep.pk}/").status_code == 404
    assert client.post(f"/sweeps/{sweep.pk}/cancel/").status_code == 404
    assert BacktestSweep.objects.get(pk=sweep.pk).status == "running"
    assert (
        backtest_live_fragments(
            user=outsider,
            payload={"sweep_id": str(sweep.pk), "status": "completed"},
            topics={f"sweep:{sweep.pk}"},
        )
        == []
    )
