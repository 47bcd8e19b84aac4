"""A trader's basics in Chromium against daphne: the phone navigation is a menu (nothing scrolls
sideways, Signals and Settings are reachable), times are read in the profile's zone, and the
password is changed in Settings. Pages are photographed at 1280×800 and 390×844."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.browser.conftest import DESKTOP, MOBILE
from tests.browser.test_browser_trader_flow import Camera

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "basics@example.com"
PASSWORD = "first-long-passphrase-31"
NEW_PASSWORD = "second-long-passphrase-64"
# Tuesday 2026-11-24 14:35:07 UTC = 09:35:07 in New York.
MOMENT = datetime(2026, 11, 24, 14, 35, 7, tzinfo=UTC)


def _trader_with_history():
    from accounts.services import user_create
    from pipelines.models import Pipeline, PipelineExecution
    from pipelines.tests.factories import minimal_graph
    from trading.models import Position, Trade

    user = user_create(email=EMAIL, password=PASSWORD, full_name="Basil Basics")
    assert user.timezone == "America/New_York"
    pipeline = Pipeline.objects.create(owner=user, name="Morning run", graph=minimal_graph())
    execution = PipelineExecution.objects.create(
        pipeline=pipeline, owner=user, status="completed", started_at=MOMENT, finished_at=MOMENT
    )
    trade = Trade.objects.create(
        owner=user,
        trading_mode="SIMULATION",
        symbol="AAPL",
        side="long",
        quantity=10,
        remaining_quantity=10,
        requested_entry_price=Decimal("100"),
        entry_price=Decimal("100"),
        stop_loss=Decimal("95"),
        initial_stop_loss=Decimal("95"),
        target_1=Decimal("105"),
        target_2=Decimal("110"),
        opened_at=MOMENT,
    )
    position = Position.objects.create(
        owner=user,
        trading_mode="SIMULATION",
        symbol="AAPL",
        side="long",
        quantity=10,
        average_price=Decimal("100"),
        current_price=Decimal("101"),
        opened_at=MOMENT,
        trade=trade,
    )
    return user, execution, position


def _log_in(page, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", password)
    page.click("main form button[type=submit]")
    page.wait_for_selector(".app-user")  # only a signed-in page has the user menu


def _menu_to(page, label: str, path: str) -> None:
    menu = page.locator("[data-testid=nav-menu]")
    menu.locator("summary").click()
    link = menu.locator("a", has_text=label)
    assert link.is_visible()
    link.click()
    page.wait_for_url(re.compile(rf".*{re.escape(path)}$"))


def test_a_trader_reads_local_times_uses_the_phone_menu_and_changes_the_password(
    page, screenshots, live_server_url, settings
):
    from accounts.models import User

    # The test run hashes with MD5 for speed; daphne (its own process) knows only the real
    # hashers, so this test's passwords are hashed the way the server checks them.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    _, execution, position = _trader_with_history()
    camera = Camera(page, screenshots)
    _log_in(page, PASSWORD)

    # --- Times in the profile's zone (America/New_York), the zone named once ----------------
    page.goto(f"/executions/{execution.pk}/")
    assert page.inner_text("[data-testid=started-at]") == "Nov 24, 09:35:07"
    assert page.locator("[data-testid=time-zone]").count() == 1
    assert "America/New_York" in page.inner_text("[data-testid=time-zone]")
    camera("basics-execution-local-time")
    page.goto(f"/trading/positions/{position.pk}/")
    assert page.inner_text("[data-testid=opened-at] time") == "2026-11-24 09:35:07"
    camera("basics-position-local-time")

    # --- The phone: a menu instead of a sideways strip; Signals and Settings reachable -------
    page.set_viewport_size(MOBILE)
    page.goto("/")
    assert not page.locator("nav.app-nav").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    page.locator("[data-testid=nav-menu] summary").click()
    page.wait_for_timeout(200)
    page.screenshot(path=str(screenshots / "basics-phone-menu-open-mobile.png"))
    page.locator("[data-testid=nav-menu] summary").click()
    _menu_to(page, "Signals", "/signals/")
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    _menu_to(page, "Settings", "/accounts/settings/")
    assert "Settings" in page.inner_text("h1")
    page.set_viewport_size(DESKTOP)
    assert page.locator("nav.app-nav").is_visible()
    assert not page.locator("[data-testid=nav-menu]").is_visible()

    # --- Password change in Settings ---------------------------------------------------------
    page.goto("/accounts/settings/")
    page.click("text=Change password")
    page.wait_for_url("**/accounts/password/change/")
    camera("basics-password-change")
    page.fill("#id_old_password", PASSWORD)
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "Password changed" in page.inner_text(".flash-messages")
    assert User.objects.get(email=EMAIL).check_password(NEW_PASSWORD)
    page.click(".app-user summary")
    page.click("text=Log out")
    page.wait_for_url("**/accounts/login/")
    assert page.locator("text=Forgot your password?").is_visible()
    _log_in(page, NEW_PASSWORD)
    assert page.url.rstrip("/") == live_server_url

    errors = [e for e in page.console_errors if "favicon" not in e]
    assert not errors, errors
