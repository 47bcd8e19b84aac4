"""Analytics in Chromium against daphne: a trader with simulation trades opens Analytics and sees
the cards, the equity and drawdown charts, the breakdowns and the trades; switches the period and
the mode in place; compares two pipelines; downloads the trades CSV. Every page is photographed
at 1280×800 and 390×844 and checked for horizontal overflow."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.test_browser_trader_flow import Camera

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "analyst@example.com"


@pytest.fixture
def trader():
    from accounts.tests.factories import UserFactory
    from analytics.tests import factories as f

    user = UserFactory(email=EMAIL, full_name="Ana Analyst")
    momentum = f.pipeline(user, name="Momentum crew")
    reversion = f.pipeline(user, name="Mean reversion")
    now = timezone.now()
    for days, net, symbol, side, reason in [
        (40, "310", "NVDA", "long", "target_2_hit"),
        (20, "-120", "AAPL", "short", "stop_hit"),
        (6, "150", "AAPL", "long", "target_1_hit"),
        (5, "-60", "MSFT", "long", "stop_hit"),
        (3, "95", "MSFT", "short", "end_of_day"),
        (2, "40", "AAPL", "long", "manual"),
    ]:
        f.closed_trade(
            user,
            net=net,
            pipeline=momentum,
            symbol=symbol,
            side=side,
            close_reason=reason,
            closed_at=now - timedelta(days=days),
        )
    for days, net in [(9, "-30"), (4, "55"), (1, "-80")]:
        f.closed_trade(user, net=net, pipeline=reversion, closed_at=now - timedelta(days=days))
    return user


def _log_in(page, user, base_url):
    # The server process hashes passwords at production strength, the tests with MD5: a
    # session made here is what logging in would have made.
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )
    page.goto("/")


def _close_a_trade(user):
    """What the position monitor does when a stop or target fills: the trade closes and the
    position's update goes out to the user's websocket."""
    from decimal import Decimal

    from analytics.tests import factories as f
    from trading.models import Position
    from trading.services import _position_event

    f.closed_trade(user, net="25", symbol="TSLA")
    position = Position.objects.create(
        owner=user,
        trading_mode="SIMULATION",
        symbol="TSLA",
        side="long",
        quantity=0,
        average_price=Decimal("200"),
        status="closed",
        opened_at=timezone.now(),
        closed_at=timezone.now(),
    )
    _position_event(position)


def _card(page, key: str) -> str:
    return page.locator(f'[data-metric="{key}"] .stat-value').inner_text().strip()


def test_analytics_page_comparison_and_export(page, trader, screenshots, live_server_url):
    camera = Camera(page, screenshots)
    _log_in(page, trader, live_server_url)

    page.click("nav.app-nav >> text=Analytics")
    page.wait_for_url("**/analytics/")
    page.wait_for_selector("[data-equity-chart][data-drawn] canvas")
    page.wait_for_selector("[data-drawdown-chart] canvas")
    assert _card(page, "trades") == "8"  # 30 days: every trade but the NVDA one 40 days ago
    assert _card(page, "net_pnl") == "+$50.00"
    assert page.locator('[data-breakdown="symbol"] li').count() == 2  # AAPL, MSFT
    assert page.locator('[data-breakdown="close_reason"]').is_visible()
    assert page.locator('[data-testid="analytics-trades"] tbody tr').count() == 8
    assert "SIMULATION — no real money" in page.inner_text("[data-testid=no-real-money]")
    camera("analytics")

    # A trade closes: the cards and the curve update live over the websocket.
    page.wait_for_selector("[data-live-indicator][data-state=live]")
    _close_a_trade(trader)
    page.wait_for_function(
        "() => document.querySelector('[data-metric=trades] .stat-value').textContent.trim()"
        " === '9'"
    )
    assert _card(page, "net_pnl") == "+$75.00"
    page.wait_for_selector("[data-equity-chart][data-drawn] canvas")

    # Period: 90 days brings in the NVDA win, in place (no navigation), the URL follows.
    page.click("label.period-option:has-text('90D')")
    page.wait_for_function(
        "() => document.querySelector('[data-metric=trades] .stat-value').textContent.trim()"
        " === '10'"
    )
    assert "period=90D" in page.url
    assert _card(page, "net_pnl") == "+$385.00"
    page.wait_for_selector("[data-equity-chart][data-drawn] canvas")

    # Mode: LIVE has nothing, and says how to get data.
    page.select_option("[data-testid=mode-select]", "LIVE")
    page.wait_for_selector("[data-testid=analytics-empty]")
    assert "Run a pipeline in simulation" in page.inner_text("[data-testid=analytics-empty]")
    camera("analytics-live-empty")

    # Trades table filter and the CSV export of what it shows.
    page.select_option("[data-testid=mode-select]", "SIMULATION")
    page.wait_for_selector("[data-equity-chart][data-drawn] canvas")
    page.fill("input[name=symbol]", "MSFT")
    page.press("input[name=symbol]", "Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=analytics-trades] tbody tr').length === 2"
    )
    with page.expect_download() as download_info:
        page.click("[data-testid=export-trades]")
    download = download_info.value
    rows = list(csv.DictReader(io.StringIO(download.path().read_text())))
    assert sorted(row["net_pnl"] for row in rows) == ["-60.00", "95.00"]
    assert download.suggested_filename.startswith("trades-simulation-90d")

    # Comparison of the two pipelines: a metrics table and two rebased curves.
    page.goto("/analytics/compare/")
    page.check("label:has-text('Momentum crew') input")
    page.check("label:has-text('Mean reversion') input")
    page.click("[data-testid=compare-submit]")
    page.wait_for_selector("[data-compare-chart][data-drawn] canvas")
    table = page.inner_text("[data-testid=compare-table]")
    assert "Momentum crew" in table and "Mean reversion" in table
    assert "−$55.00" in table  # Mean reversion: −30 + 55 − 80
    camera("analytics-compare")

    page.goto("/analytics/costs/")
    page.wait_for_selector("[data-testid=costs-empty]")
    camera("analytics-costs")
    assert not page.console_errors, page.console_errors
