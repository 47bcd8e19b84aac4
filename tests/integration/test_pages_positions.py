"""Positions and trades pages: rows with live P&L colours, emergency close and close-all behind a
confirmation, a position's chart, the trade history filters, fixed queries, owner scoping."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from pipelines.models import Pipeline
from pipelines.tests.factories import minimal_graph
from trading.models import ManualIntervention, Position, Trade

pytestmark = pytest.mark.django_db


def _trade(owner, symbol="AAPL", **fields) -> Trade:
    defaults = {
        "owner": owner,
        "trading_mode": "SIMULATION",
        "symbol": symbol,
        "side": "long",
        "quantity": 10,
        "remaining_quantity": 10,
        "requested_entry_price": Decimal("100"),
        "entry_price": Decimal("100"),
        "stop_loss": Decimal("95"),
        "initial_stop_loss": Decimal("95"),
        "target_1": Decimal("105"),
        "target_2": Decimal("110"),
        "opened_at": timezone.now(),
    }
    defaults.update(fields)
    return Trade.objects.create(**defaults)


def _position(owner, symbol="AAPL", price="101", **fields) -> Position:
    trade = _trade(owner, symbol, pipeline_id=fields.get("pipeline_id"))
    defaults = {
        "owner": owner,
        "trading_mode": "SIMULATION",
        "symbol": symbol,
        "side": "long",
        "quantity": 10,
        "average_price": Decimal("100"),
        "current_price": Decimal(price),
        "unrealized_pnl": (Decimal(price) - Decimal("100")) * 10,
        "stop_loss": Decimal("95"),
        "target_1": Decimal("105"),
        "target_2": Decimal("110"),
        "opened_at": timezone.now(),
        "trade": trade,
    }
    defaults.update(fields)
    return Position.objects.create(**defaults)


def test_a_new_user_sees_what_positions_will_look_like(owner_client):
    html = owner_client.get(reverse("trading:positions")).content.decode()
    assert "No open positions" in html
    assert 'data-testid="close-all"' not in html


def test_rows_show_levels_pipeline_and_pnl_colours(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Momentum", graph=minimal_graph())
    winner = _position(owner, "AAPL", "104", pipeline_id=pipeline.pk)
    loser = _position(owner, "MSFT", "98")
    near_stop = _position(owner, "NVDA", "96")  # within a quarter of the way to the stop
    html = owner_client.get(reverse("trading:positions")).content.decode()
    assert re.search(rf'id="position-{winner.pk}" class="position-row tone-gain', html)
    assert re.search(rf'id="position-{loser.pk}" class="position-row tone-loss', html)
    assert re.search(rf'id="position-{near_stop.pk}" class="position-row tone-warn', html)
    assert "+$40.00" in html and "−$20.00" in html
    assert f'href="/pipelines/{pipeline.pk}/">Momentum</a>' in html
    assert "95.00" in html and "105.00 / 110.00" in html
    assert 'ws-connect="/ws/events/html/?topics=positions"' in html
    assert 'data-poll="#positions-table"' in html


def test_the_positions_page_runs_a_fixed_number_of_queries(
    owner_client, owner, django_assert_num_queries
):
    pipeline = Pipeline.objects.create(owner=owner, name="Many", graph=minimal_graph())
    for n in range(50):
        _position(owner, f"S{n:03d}", pipeline_id=pipeline.pk)
    owner_client.get(reverse("trading:positions"))
    # session, user, a page of positions with their trades, open totals, pipeline names, bell
    with django_assert_num_queries(6):
        response = owner_client.get(reverse("trading:positions"))
    assert response.content.decode().count('class="position-row') == 50


def test_closing_a_position_asks_first_and_says_what_happens(owner_client, owner):
    position = _position(owner, "AAPL")
    url = reverse("trading:position-close", args=[position.pk])
    page = owner_client.get(url).content.decode()
    assert "Close AAPL now?" in page
    assert "A market order sells 10 AAPL now" in page
    assert "Monitoring stops" in page
    unconfirmed = owner_client.post(url)
    assert "Close AAPL at market" in unconfirmed.content.decode()
    position.refresh_from_db()
    assert position.status == "open"

    response = owner_client.post(url, {"confirmed": "yes"}, follow=True)
    position.refresh_from_db()
    assert position.status == "closed" and not position.monitoring
    assert "AAPL closed: 10 shares" in response.content.decode()
    assert ManualIntervention.objects.filter(owner=owner, action="emergency_close").exists()


def test_close_all_closes_every_open_position_after_confirmation(owner_client, owner):
    _position(owner, "AAPL")
    _position(owner, "MSFT")
    url = reverse("trading:positions-close-all")
    page = owner_client.post(url).content.decode()
    assert "Close all 2 positions now?" in page and "AAPL (SIMULATION), MSFT (SIMULATION)" in page
    assert Position.objects.filter(owner=owner, status="open").count() == 2
    owner_client.post(url, {"confirmed": "yes"})
    assert not Position.objects.filter(owner=owner, status="open").exists()
    assert ManualIntervention.objects.filter(action="emergency_close_all").count() == 1


def test_the_position_page_draws_its_levels_on_a_chart(owner_client, owner):
    position = _position(owner, "AAPL")
    html = owner_client.get(reverse("trading:position", args=[position.pk])).content.decode()
    chart = json.loads(
        re.search(
            r'<script id="position-charts-data" type="application/json">(.*?)</script>', html
        ).group(1)
    )[0]
    assert chart["symbol"] == "AAPL" and chart["candles"]["5m"]
    assert [level["title"] for level in chart["levels"]] == [
        "Entry",
        "Stop",
        "Target 1",
        "Target 2",
    ]
    assert chart["markers"][0]["buy"] is True
    assert "TradingView" in html
    assert "/static/vendor/lightweight-charts/" in html


def test_another_users_position_is_404_and_stays_open(client, outsider, owner):
    position = _position(owner, "AAPL")
    client.force_login(outsider)
    assert client.get(reverse("trading:position", args=[position.pk])).status_code == 404
    response = client.post(
        reverse("trading:position-close", args=[position.pk]), {"confirmed": "yes"}
    )
    assert response.status_code == 404
    client.post(reverse("trading:positions-close-all"), {"confirmed": "yes"})
    position.refresh_from_db()
    assert position.status == "open"
    assert "AAPL" not in client.get(reverse("trading:positions")).content.decode()


def test_the_trade_history_filters(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Swing", graph=minimal_graph())
    old = _trade(owner, "AAPL", opened_at=timezone.now() - timedelta(days=30), status="closed")
    paper = _trade(owner, "MSFT", trading_mode="PAPER", pipeline_id=pipeline.pk)
    url = reverse("trading:trades")
    everything = owner_client.get(url).content.decode()
    assert f"trade-{old.pk}" in everything and f"trade-{paper.pk}" in everything
    assert f'href="/pipelines/{pipeline.pk}/">Swing</a>' in everything
    checks = [
        ({"symbol": "msft"}, paper, old),
        ({"trading_mode": "PAPER"}, paper, old),
        ({"status": "closed"}, old, paper),
        ({"pipeline": str(pipeline.pk)}, paper, old),
        ({"date_from": (timezone.now() - timedelta(days=1)).date().isoformat()}, paper, old),
        ({"date_to": (timezone.now() - timedelta(days=10)).date().isoformat()}, old, paper),
    ]
    for query, shown, hidden in checks:
        html = owner_client.get(url, query).content.decode()
        assert f"trade-{shown.pk}" in html and f"trade-{hidden.pk}" not in html, query
    assert (
        "No trades match these filters" in owner_client.get(url, {"symbol": "ZZZ"}).content.decode()
    )


def test_the_trade_history_runs_a_fixed_number_of_queries(
    owner_client, owner, django_assert_num_queries
):
    pipeline = Pipeline.objects.create(owner=owner, name="Busy", graph=minimal_graph())
    for n in range(50):
        _trade(owner, f"S{n:03d}", pipeline_id=pipeline.pk)
    owner_client.get(reverse("trading:trades"))
    # session, user, pipelines, totals, page (keyset: no count query), bell
    with django_assert_num_queries(6):
        response = owner_client.get(reverse("trading:trades"))
    assert response.content.decode().count('<tr id="trade-') == 50


def test_a_new_user_sees_an_empty_trade_history_with_a_next_step(owner_client, outsider):
    _trade(outsider, "AAPL")
    html = owner_client.get(reverse("trading:trades")).content.decode()
    assert "No trades yet" in html
