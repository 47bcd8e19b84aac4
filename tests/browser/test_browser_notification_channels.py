"""Notification channels on Settings, in Chromium against daphne: add a Telegram channel (the
wrong field named first, the token never shown again), choose its events, queue a test message,
remove it through the confirmation dialog; photographed at 1280×800 and 390×844."""

from __future__ import annotations

import pytest

from tests.browser.test_browser_trader_flow import Camera

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "channels@example.com"
PASSWORD = "correct-horse-battery-42"
TOKEN = "123456789:AAHfakeTelegramBotToken_0123456789"


def test_a_trader_adds_tests_and_removes_a_telegram_channel(page, screenshots):
    from accounts.models import NotificationChannel, User

    camera = Camera(page, screenshots)
    # Signed up through the page: the server hashes the password the way it checks it.
    page.goto("/accounts/signup/")
    page.fill("#id_full_name", "Cora Channels")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/signup/" not in url)
    owner = User.objects.get(email=EMAIL)

    page.goto("/accounts/settings/#channels")
    assert "No channels yet" in page.inner_text("#channels")
    camera("settings-channels-empty")

    # A token that is not one: the page says which field is wrong, nothing is saved.
    page.select_option("#id_channel-kind", "telegram")
    page.fill("#id_channel-bot_token", "not-a-token")
    page.fill("#id_channel-chat_id", "-100123")
    page.click("form.channel-form button[type=submit]")
    page.wait_for_selector(".errorlist")
    assert "A bot token looks like" in page.inner_text("form.channel-form")
    assert not NotificationChannel.objects.filter(owner=owner).exists()
    camera("channel-add-error")

    page.fill("#id_channel-bot_token", TOKEN)
    page.fill("#id_channel-chat_id", "-100123")
    page.click("form.channel-form button[type=submit]")
    page.wait_for_selector("[data-testid=channel-telegram]")
    html = page.content()
    assert "chat -100123" in html and TOKEN not in html
    channel = NotificationChannel.objects.get(owner=owner)
    assert channel.events == ["fills", "stops", "targets", "errors", "budget", "daily_summary"]

    # Only stops and the daily summary from now on.
    item = page.locator("[data-testid=channel-telegram]")
    for event in ("fills", "targets", "errors", "budget"):
        item.locator(f"input[name=events][value={event}]").uncheck()
    item.locator("form.channel-events button[type=submit]").click()
    page.wait_for_selector(".flash-success")
    channel.refresh_from_db()
    assert channel.events == ["stops", "daily_summary"]

    page.locator("[data-testid=channel-telegram]").get_by_text("Send a test message").click()
    page.wait_for_selector(".flash-info")
    assert "Test message queued" in page.inner_text(".flash-messages")
    camera("settings-channels")

    page.locator("[data-testid=channel-telegram]").get_by_role("button", name="Remove").click()
    page.wait_for_selector("#confirm-ok")
    camera("channel-remove-dialog", full_page=False)
    page.click("#confirm-ok")
    page.wait_for_selector(".flash-success")
    assert not NotificationChannel.objects.filter(owner=owner).exists()
    assert "No channels yet" in page.inner_text("#channels")

    # The form with an error answers 400 on purpose; Chromium logs that status.
    errors = [e for e in page.console_errors if "favicon" not in e and "status of 400" not in e]
    assert not errors, errors
