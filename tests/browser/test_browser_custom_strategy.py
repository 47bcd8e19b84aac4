"""Custom strategies in Chromium: a trader writes a strategy (no model configured on this server,
so by hand), submits it through the automated review, an administrator approves the exact hash
in the Django admin queue, and the trader finds "Custom: <name>" in the builder with its params
form. Every page is photographed at 1280×800 and 390×844 and checked for sideways overflow."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.contrib.auth.models import Permission

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.browser.conftest import DESKTOP
from tests.browser.test_browser_trader_flow import Camera

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = """PARAMS = {"fast": 9, "slow": 21}
INDICATORS = ["EMA_9", "EMA_21"]


def strategy(bars, indicators, position, params):
    fast = indicators["ema_9"]
    slow = indicators["ema_21"]
    if fast[-1] is None or slow[-1] is None:
        return {"signal": "HOLD", "reason": "warming up"}
    if fast[-1] > slow[-1]:
        return {"signal": "BUY", "reason": "fast EMA above slow EMA"}
    return {"signal": "HOLD", "reason": "no uptrend"}
"""


def _with_server_password(user):
    # The test run hashes with MD5 for speed; daphne runs the production hashers.
    user.password = make_password(DEFAULT_PASSWORD, hasher=PBKDF2PasswordHasher())
    user.save(update_fields=["password"])
    return user


def _log_in(page, email: str, *, admin: bool = False) -> None:
    page.goto("/admin/login/" if admin else "/accounts/login/")
    page.fill("input[name=username]" if admin else "input[name=email]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_load_state()


def test_a_trader_writes_a_strategy_an_admin_approves_it_and_it_is_in_the_builder(
    page, chromium, live_server_url, screenshots
):
    trader = _with_server_password(UserFactory(email="writer@example.com", full_name="Wren W"))
    admin_user = _with_server_password(UserFactory(email="admin@example.com", is_staff=True))
    admin_user.user_permissions.add(Permission.objects.get(codename="review_customstrategy"))
    camera = Camera(page, screenshots)

    _log_in(page, trader.email)
    page.goto("/strategies/custom/")
    page.wait_for_selector("[data-testid=empty-state]")
    camera("custom-strategies-empty")

    page.click("[data-testid=new-strategy]")
    page.wait_for_selector("[data-testid=no-llm]")
    page.fill("#id_name", "EMA trend")
    page.fill("#id_description", "Buy while the 9 EMA is above the 21 EMA.")
    page.fill("#id_code", CODE)
    camera("custom-strategy-new")
    page.click("[data-testid=submit]")
    page.wait_for_selector("[data-testid=pending-note]")
    assert "Awaiting review" in page.inner_text("[data-testid=status-badge]")
    assert "Passed" in page.inner_text("[data-testid=dry-run]")
    assert page.locator("[data-testid=code] .code-highlight").count() == 1
    camera("custom-strategy-pending")

    reviewer = chromium.new_context(viewport=DESKTOP, base_url=live_server_url)
    try:
        admin_page = reviewer.new_page()
        _log_in(admin_page, admin_user.email, admin=True)
        admin_page.goto("/admin/agents/pendingcustomstrategy/")
        admin_page.click("text=EMA trend")
        admin_page.wait_for_selector("[data-testid=decision-form]")
        assert "passed" in admin_page.inner_text("[data-testid=static-findings]")
        assert "def strategy" in admin_page.inner_text("[data-testid=strategy-code]")
        admin_page.screenshot(
            path=str(screenshots / "custom-strategy-admin-review.png"), full_page=True
        )
        admin_page.click("[data-testid=reject]")  # no comment: refused, still pending
        admin_page.wait_for_selector(".messagelist .error")
        admin_page.click("[data-testid=approve]")
        admin_page.wait_for_selector(".messagelist .success")
    finally:
        reviewer.close()

    page.reload()
    page.wait_for_selector("[data-testid=active-note]")
    assert "Active" in page.inner_text("[data-testid=status-badge]")
    camera("custom-strategy-active")

    page.goto("/pipelines/new/")
    item = page.locator("[data-testid=palette-custom_strategy]")
    assert "Custom: EMA trend" in item.inner_text()
    item.locator("[data-add-agent]").click()
    page.wait_for_selector("#node-panel #node-config-form")
    panel = page.inner_text("#node-panel")
    assert "EMA trend v1" in panel
    assert "Fast" in panel and "Slow" in panel
    camera("custom-strategy-in-builder", full_page=False)
    assert page.console_errors == []
