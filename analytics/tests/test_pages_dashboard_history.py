"""The dashboard and the pipeline cards with a long history: query counts that stay flat from
10 to 200 pipelines, runs, positions and trades; the cards' last run and figures stay right
when every pipeline has many runs (the aggregation no longer joins the runs)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipelines.models import Pipeline, PipelineExecution
from pipelines.selectors import pipeline_cards_for_user
from pipelines.tests.factories import minimal_graph
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db


def _history(owner, count: int, *, runs: int = 3, prefix: str = "P") -> list[Pipeline]:
    """`count` active pipelines, each with `runs` runs, one closed trade and one open position."""
    now = timezone.now()
    pipelines = Pipeline.objects.bulk_create(
        Pipeline(owner=owner, name=f"{prefix}{n:03d}", graph=minimal_graph(), status="active")
        for n in range(count)
    )
    PipelineExecution.objects.bulk_create(
        PipelineExecution(
            pipeline=pipeline, owner=owner, trading_mode="SIMULATION", status="completed"
        )
        for pipeline in pipelines
        for _ in range(runs)
    )
    trades = Trade.objects.bulk_create(
        Trade(
            owner=owner,
            trading_mode="SIMULATION",
            pipeline_id=pipeline.pk,
            symbol=f"{prefix}{n:03d}",
            side="long",
            quantity=5,
            remaining_quantity=5 if open_ else 0,
            requested_entry_price=Decimal("50"),
            entry_price=Decimal("50"),
            stop_loss=Decimal("48"),
            initial_stop_loss=Decimal("48"),
            target_1=Decimal("52"),
            target_2=Decimal("54"),
            status="open" if open_ else "closed",
            realized_pnl=Decimal("0") if open_ else Decimal("7.50"),
            opened_at=now - timedelta(minutes=n),
        )
        for n, pipeline in enumerate(pipelines)
        for open_ in (True, False)
    )
    Position.objects.bulk_create(
        Position(
            owner=owner,
            trading_mode="SIMULATION",
            symbol=trade.symbol,
            side="long",
            quantity=5,
            average_price=Decimal("50"),
            current_price=Decimal("51"),
            unrealized_pnl=Decimal("5"),
            stop_loss=Decimal("48"),
            target_1=Decimal("52"),
            target_2=Decimal("54"),
            pipeline_id=trade.pipeline_id,
            opened_at=trade.opened_at,
            trade=trade,
        )
        for trade in trades
        if trade.status == "open"
    )
    return pipelines


def _query_count(client, url: str) -> int:
    client.get(url)  # warm: session and caches as on any later request
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_it_keeps_the_dashboard_queries_flat_from_10_to_200_pipelines(owner_client, owner):
    _history(owner, 10, prefix="A")
    few = _query_count(owner_client, reverse("dashboard"))
    _history(owner, 190, prefix="B")
    many = _query_count(owner_client, reverse("dashboard"))
    # session, user, pipelines, runs, newest positions, open totals, pipeline names, trades,
    # spend, bell
    assert few == many == 10
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert html.count('class="position-row') == 20
    assert "180 more open positions" in html and "200 positions" in html
    assert "+$1,000.00" in html  # the open P&L of all 200, not of the 20 shown


def test_it_keeps_the_pipeline_list_queries_flat_from_10_to_200_pipelines(owner_client, owner):
    _history(owner, 10, prefix="A")
    few = _query_count(owner_client, reverse("pipelines:list"))
    _history(owner, 190, prefix="B")
    many = _query_count(owner_client, reverse("pipelines:list"))
    assert few == many == 4  # session, user, bell, pipelines with their figures


def test_it_gives_each_card_its_latest_run_and_figures_with_many_runs(owner, outsider):
    [crew, idle] = _history(owner, 2, runs=12)
    PipelineExecution.objects.filter(pipeline=idle).delete()
    newest = PipelineExecution.objects.filter(pipeline=crew).order_by("-created_at").first()
    _history(outsider, 3, runs=5)  # another trader's runs and trades count for nothing here

    cards = {card.pk: card for card in pipeline_cards_for_user(user=owner)}

    assert set(cards) == {crew.pk, idle.pk}
    assert cards[crew.pk].last_execution_at == newest.created_at
    assert cards[idle.pk].last_execution_at is None
    for card in cards.values():
        # one open and one closed trade each, whatever the number of runs
        assert card.trades_count == 2
        assert card.realized_pnl == Decimal("7.50")
        assert card.open_pnl == Decimal("5.00")


def test_it_pushes_a_dashboard_row_only_where_it_belongs(owner_client, owner):
    _history(owner, 25)
    html = owner_client.get(reverse("dashboard")).content.decode()
    # 20 of 25 shown: the table takes in rows opened since its oldest row, as the page does.
    assert 'id="positions-body" data-upsert-since="' in html
    Position.objects.filter(owner=owner).exclude(
        pk__in=Position.objects.filter(owner=owner).order_by("-opened_at", "-pk")[:5]
    ).delete()
    few = owner_client.get(reverse("dashboard")).content.decode()
    assert 'id="positions-body">' in few and "more open position" not in few
