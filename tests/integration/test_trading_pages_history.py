"""Trades and positions pages with a long history: keyset pages (newest first by (opened_at, id),
no row on two pages or on none, filters kept, owner-scoped, a bad cursor is the first page),
query counts that stay flat from 10 to 200 rows, and lean rows that read as before."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipelines.models import Pipeline
from pipelines.tests.factories import minimal_graph
from trading.keyset import cursor_for, cursor_parse, keyset_page
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db

TRADE_ROW = re.compile(r'<tr id="trade-(\d+)">')
POSITION_ROW = re.compile(r'<tr id="position-(\d+)" class="position-row')
OLDER = re.compile(r'href="\?([^"]*older=[0-9-]+)"')
NEWER = re.compile(r'href="\?([^"]*newer=[0-9-]+)"')


def _trades(owner, count: int, *, symbol="AAPL", pipeline=None, mode="SIMULATION", start=None):
    """`count` trades, three to a timestamp (ties the id must break), newest last."""
    start = start or timezone.now() - timedelta(days=30)
    return Trade.objects.bulk_create(
        Trade(
            owner=owner,
            trading_mode=mode,
            pipeline_id=pipeline.pk if pipeline else None,
            symbol=symbol,
            side="long",
            quantity=10,
            remaining_quantity=0,
            requested_entry_price=Decimal("100"),
            entry_price=Decimal("100"),
            exit_price=Decimal("101"),
            stop_loss=Decimal("95"),
            initial_stop_loss=Decimal("95"),
            target_1=Decimal("105"),
            target_2=Decimal("110"),
            status="closed",
            close_reason="target_1_hit",
            realized_pnl=Decimal("9.00"),
            opened_at=start + timedelta(minutes=n // 3),
            closed_at=start + timedelta(minutes=n // 3 + 5),
        )
        for n in range(count)
    )


def _open_positions(owner, count: int, *, pipeline=None, prefix="S"):
    now = timezone.now()
    trades = Trade.objects.bulk_create(
        Trade(
            owner=owner,
            trading_mode="SIMULATION",
            pipeline_id=pipeline.pk if pipeline else None,
            symbol=f"{prefix}{n:03d}",
            side="long",
            quantity=10,
            remaining_quantity=10,
            requested_entry_price=Decimal("100"),
            entry_price=Decimal("100"),
            stop_loss=Decimal("95"),
            initial_stop_loss=Decimal("95"),
            target_1=Decimal("105"),
            target_2=Decimal("110"),
            opened_at=now - timedelta(minutes=n // 2),
        )
        for n in range(count)
    )
    return Position.objects.bulk_create(
        Position(
            owner=owner,
            trading_mode="SIMULATION",
            symbol=trade.symbol,
            side="long",
            quantity=10,
            average_price=Decimal("100"),
            current_price=Decimal("102"),
            unrealized_pnl=Decimal("20"),
            stop_loss=Decimal("95"),
            target_1=Decimal("105"),
            target_2=Decimal("110"),
            pipeline_id=trade.pipeline_id,
            opened_at=trade.opened_at,
            trade=trade,
        )
        for trade in trades
    )


def _walk(client, url: str, row: re.Pattern, link: re.Pattern, query: str = "") -> list[list[int]]:
    """Every page from `url?query` following one direction's links: the row ids of each page."""
    pages = []
    next_query = query
    while next_query is not None:
        response = client.get(f"{url}?{next_query}".replace("&amp;", "&"))
        assert response.status_code == 200
        html = response.content.decode()
        pages.append([int(pk) for pk in row.findall(html)])
        found = link.search(html)
        next_query = found.group(1).replace("&amp;", "&") if found else None
        assert len(pages) < 50, "the pager never ends"
    return pages


def _query_count(client, url: str) -> int:
    client.get(url)  # warm: session and caches as on any later request
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_it_walks_the_trade_history_newest_first_without_duplicates_or_misses(owner_client, owner):
    trades = _trades(owner, 125)
    expected = [t.pk for t in sorted(trades, key=lambda t: (t.opened_at, t.pk), reverse=True)]
    url = reverse("trading:trades")

    pages = _walk(owner_client, url, TRADE_ROW, OLDER)

    assert [len(page) for page in pages] == [50, 50, 25]
    assert [pk for page in pages for pk in page] == expected
    html = owner_client.get(url).content.decode()
    assert "125 trades" in html and 'data-testid="pager-newer"' not in html


def test_it_walks_back_to_the_newest_trades_through_the_newer_links(owner_client, owner):
    _trades(owner, 125)
    url = reverse("trading:trades")
    forward = _walk(owner_client, url, TRADE_ROW, OLDER)
    last_page_query = OLDER.findall(owner_client.get(url).content.decode())[0]
    second = owner_client.get(f"{url}?{last_page_query}".replace("&amp;", "&")).content.decode()
    third_query = OLDER.search(second).group(1).replace("&amp;", "&")

    backward = _walk(owner_client, url, TRADE_ROW, NEWER, query=third_query)

    assert backward == forward[::-1]


def test_it_keeps_the_filters_in_the_pager_links(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Swing", graph=minimal_graph())
    wanted = _trades(owner, 60, symbol="MSFT", pipeline=pipeline)
    _trades(owner, 60, symbol="AAPL", pipeline=pipeline)
    _trades(owner, 60, symbol="MSFT", mode="PAPER")
    url = reverse("trading:trades")

    pages = _walk(owner_client, url, TRADE_ROW, OLDER, query=f"symbol=msft&pipeline={pipeline.pk}")

    assert [len(page) for page in pages] == [50, 10]
    assert sorted(pk for page in pages for pk in page) == sorted(t.pk for t in wanted)
    first = owner_client.get(url, {"symbol": "msft", "pipeline": str(pipeline.pk)})
    older_link = OLDER.search(first.content.decode()).group(1)
    assert "symbol=msft" in older_link and f"pipeline={pipeline.pk}" in older_link


def test_it_shows_only_the_owners_trades_whatever_the_cursor(owner_client, owner, outsider):
    mine = _trades(owner, 60)
    theirs = _trades(outsider, 60)
    url = reverse("trading:trades")
    # The outsider's newest trade as the cursor: still only the owner's rows, older than it.
    cursor = cursor_for(theirs[-1].opened_at, theirs[-1].pk)

    pages = _walk(owner_client, url, TRADE_ROW, OLDER, query=f"older={cursor}")

    seen = {pk for page in pages for pk in page}
    assert seen and seen <= {t.pk for t in mine}
    assert not seen & {t.pk for t in theirs}


@pytest.mark.parametrize("cursor", ["nonsense", "12-", "-3", "9" * 40, "1.5-2", ""])
def test_it_shows_the_first_page_for_a_cursor_that_does_not_parse(owner_client, owner, cursor):
    trades = _trades(owner, 60)
    newest = max(trades, key=lambda t: (t.opened_at, t.pk))
    for key in ("older", "newer"):
        response = owner_client.get(reverse("trading:trades"), {key: cursor})
        assert response.status_code == 200
        ids = [int(pk) for pk in TRADE_ROW.findall(response.content.decode())]
        assert len(ids) == 50 and ids[0] == newest.pk


def test_it_offers_the_way_back_past_the_oldest_trade(owner_client, owner):
    trades = _trades(owner, 10)
    oldest = min(trades, key=lambda t: (t.opened_at, t.pk))
    cursor = cursor_for(oldest.opened_at, oldest.pk)
    html = owner_client.get(reverse("trading:trades"), {"older": cursor}).content.decode()
    assert "No more trades this way" in html and "Back to the newest trades" in html
    assert not TRADE_ROW.findall(html)


def test_it_pages_open_positions_newest_first_with_the_totals_of_all(owner_client, owner):
    positions = _open_positions(owner, 120)
    expected = [p.pk for p in sorted(positions, key=lambda p: (p.opened_at, p.pk), reverse=True)]
    url = reverse("trading:positions")

    pages = _walk(owner_client, url, POSITION_ROW, OLDER)

    assert [len(page) for page in pages] == [50, 50, 20]
    assert [pk for page in pages for pk in page] == expected
    first = owner_client.get(url).content.decode()
    assert "120 open" in first and "+$2,400.00" in first
    assert "Close all 120 positions now?" in first
    # The first page takes in pushed rows opened since its oldest row; an older page none.
    oldest_shown = next(p for p in positions if p.pk == pages[0][-1])
    since = cursor_for(oldest_shown.opened_at, 0).split("-")[0]
    assert f'id="positions-body" data-upsert-since="{since}"' in first
    second = owner_client.get(f"{url}?{OLDER.search(first).group(1)}".replace("&amp;", "&"))
    assert 'data-upsert-since="none"' in second.content.decode()


def test_it_never_shows_another_users_positions_on_any_page(owner_client, owner, outsider):
    mine = _open_positions(owner, 60)
    theirs = _open_positions(outsider, 60)
    pages = _walk(owner_client, reverse("trading:positions"), POSITION_ROW, OLDER)
    seen = {pk for page in pages for pk in page}
    assert seen == {p.pk for p in mine}
    assert not seen & {p.pk for p in theirs}


def test_it_keeps_the_trades_page_queries_flat_from_10_to_200_trades(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Busy", graph=minimal_graph())
    url = reverse("trading:trades")
    _trades(owner, 10, pipeline=pipeline)
    few = _query_count(owner_client, url)
    _trades(owner, 190, pipeline=pipeline, start=timezone.now() - timedelta(days=60))
    many = _query_count(owner_client, url)
    # session, user, pipelines, totals, one page of trades, bell
    assert few == many == 6
    deep = Trade.objects.filter(owner=owner).order_by("-opened_at", "-pk")[120]
    assert _query_count(owner_client, f"{url}?older={cursor_for(deep.opened_at, deep.pk)}") == 6


def test_it_keeps_the_positions_page_queries_flat_from_10_to_200_positions(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Busy", graph=minimal_graph())
    url = reverse("trading:positions")
    _open_positions(owner, 10, pipeline=pipeline, prefix="A")
    few = _query_count(owner_client, url)
    _open_positions(owner, 190, pipeline=pipeline, prefix="B")
    many = _query_count(owner_client, url)
    # session, user, a page of positions with their trades, open totals, pipeline names, bell
    assert few == many == 6


def test_it_renders_lean_rows_that_read_as_before(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Momentum", graph=minimal_graph())
    [position] = _open_positions(owner, 1, pipeline=pipeline)
    Position.objects.filter(pk=position.pk).update(trading_mode="LIVE")
    html = owner_client.get(reverse("trading:positions")).content.decode()
    assert f'href="/trading/positions/{position.pk}/"><strong>S000</strong>' in html
    assert 'class="badge badge-LIVE" title="Real money">● LIVE</span>' in html
    assert f'href="/pipelines/{pipeline.pk}/">Momentum</a>' in html
    assert f'data-confirm-post="/trading/positions/{position.pk}/close/"' in html
    assert "This is a LIVE position: a real order goes to your broker." in html
    assert "+$20.00" in html and "102.00" in html and "105.00 / 110.00" in html

    [trade] = _trades(owner, 1, pipeline=pipeline)
    history = owner_client.get(reverse("trading:trades")).content.decode()
    row = history[history.index(f'<tr id="trade-{trade.pk}">') :]
    row = row[: row.index("</tr>")]
    assert "Target 1 hit" in row and "+$9.00" in row and 'class="num gain"' in row
    assert 'title="Simulated fills — no real money">SIMULATION</span>' in row
    assert f'href="/pipelines/{pipeline.pk}/">Momentum</a>' in row


def test_it_parses_only_the_cursors_it_writes():
    moment = timezone.now()
    assert cursor_parse(cursor_for(moment, 42)) == (moment, 42)
    assert cursor_parse(cursor_for(7, 42), time_key=False) == (7, 42)  # a bar number's cursor
    for bad in (None, "", "abc", "1-", "-1", "1-2-3", "1e5-2", "9" * 19 + "-1"):
        assert cursor_parse(bad) is None, bad
        assert cursor_parse(bad, time_key=False) is None, bad


def test_it_pages_a_queryset_in_one_query_per_page(owner):
    _trades(owner, 7)
    rows = Trade.objects.filter(owner=owner)
    with CaptureQueriesContext(connection) as queries:
        first = keyset_page(rows, key_field="opened_at", size=3)
        second = keyset_page(rows, key_field="opened_at", size=3, older_than=first.older)
        last = keyset_page(rows, key_field="opened_at", size=3, older_than=second.older)
        back = keyset_page(rows, key_field="opened_at", size=3, newer_than=second.newer)
    assert len(queries.captured_queries) == 4
    assert [len(first.rows), len(second.rows), len(last.rows)] == [3, 3, 1]
    assert first.newer is None and last.older is None
    assert [t.pk for t in back.rows] == [t.pk for t in first.rows] and back.newer is None


def test_it_writes_the_opening_time_on_the_readers_clock(owner_client, owner):
    from datetime import UTC, datetime

    owner.timezone = "Asia/Tokyo"
    owner.save()
    [trade] = _trades(owner, 1, start=datetime(2026, 3, 4, 23, 5, tzinfo=UTC))
    html = owner_client.get(reverse("trading:trades")).content.decode()
    row = html[html.index(f'<tr id="trade-{trade.pk}">') :]
    assert "Mar 5, 08:05" in row[: row.index("</tr>")]
