"""Paged history on a phone, in Chromium against daphne: the positions page shows its newest 50
open positions with "Older"/"Newer" links that fit the screen, a pushed price lands in its row,
and a pushed row that belongs on another page is not added to this one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.browser.conftest import MOBILE
from tests.browser.test_browser_trader_flow import Camera

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "history@example.com"
POSITIONS = 60


def _trader_with_positions():
    from django.utils import timezone

    from accounts.services import user_create
    from trading.models import Position, Trade

    user = user_create(email=EMAIL, password="history-long-passphrase-77", full_name="Hana History")
    now = timezone.now()
    trades = Trade.objects.bulk_create(
        Trade(
            owner=user,
            trading_mode="SIMULATION",
            symbol=f"H{n:03d}",
            side="long",
            quantity=10,
            remaining_quantity=10,
            requested_entry_price=Decimal("100"),
            entry_price=Decimal("100"),
            stop_loss=Decimal("90"),
            initial_stop_loss=Decimal("90"),
            target_1=Decimal("105"),
            target_2=Decimal("110"),
            opened_at=now - timedelta(minutes=n),
        )
        for n in range(POSITIONS)
    )
    positions = Position.objects.bulk_create(
        Position(
            owner=user,
            trading_mode="SIMULATION",
            symbol=trade.symbol,
            side="long",
            quantity=10,
            average_price=Decimal("100"),
            current_price=Decimal("101"),
            unrealized_pnl=Decimal("10"),
            stop_loss=Decimal("90"),
            target_1=Decimal("105"),
            target_2=Decimal("110"),
            opened_at=trade.opened_at,
            trade=trade,
        )
        for trade in trades
    )
    return user, positions  # newest first


def _push_price(position, price: str) -> None:
    from trading.models import Position
    from trading.services import _position_event

    Position.objects.filter(pk=position.pk).update(
        current_price=Decimal(price), unrealized_pnl=(Decimal(price) - 100) * 10
    )
    position.refresh_from_db()
    _position_event(position)


def _fits_the_screen(page) -> bool:
    return page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def test_it_pages_positions_on_a_phone_and_keeps_pushed_rows_on_their_page(
    page, screenshots, live_server_url
):
    from django.test import Client

    user, positions = _trader_with_positions()
    newest, oldest = positions[0], positions[-1]
    camera = Camera(page, screenshots)
    # A session made here is what logging in would have made (the server hashes passwords at
    # production strength, the tests with MD5).
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server_url}]
    )
    page.set_viewport_size(MOBILE)

    page.goto("/trading/positions/")
    assert page.locator("#positions-body .position-row").count() == 50
    assert "60 open" in page.inner_text(".summary-line")
    assert page.locator("[data-testid=pager-older]").is_visible()
    assert _fits_the_screen(page)
    camera("positions-paged-phone")

    # The oldest position is on the second page: its push must not add it here. The newest
    # one's push, sent after it on the same socket, shows the first was handled by then.
    page.wait_for_selector("[data-live-indicator][data-state=live]")
    _push_price(oldest, "97")
    _push_price(newest, "104")
    page.wait_for_function(
        f"() => document.querySelector('#position-{newest.pk} [data-testid=position-pnl]')"
        ".textContent.includes('+$40.00')"
    )
    assert page.locator(f"#position-{oldest.pk}").count() == 0
    assert page.locator("#positions-body .position-row").count() == 50

    page.click("[data-testid=pager-older]")
    page.wait_for_selector(f"#position-{oldest.pk}")
    # The catch-up refresh when the socket opens reloads this page, not the first one.
    page.wait_for_selector("[data-live-indicator][data-state=live]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#positions-body .position-row").count() == 10
    assert "−$30.00" in page.inner_text(f"#position-{oldest.pk}")
    assert _fits_the_screen(page)
    camera("positions-older-phone")

    page.click("[data-testid=pager-newer]")
    page.wait_for_selector(f"#position-{newest.pk}")
    assert page.locator("#positions-body .position-row").count() == 50
    assert page.console_errors == []
