"""Settings pages: broker connections (keys never shown again, verify against the Alpaca fake,
remove after confirmation) and notifications (the bell's count, the page that marks them read)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.models import BrokerConnection, Notification
from accounts.services import notify
from tests.fakes.alpaca import FakeAlpaca
from trading.clock import ManualClock

pytestmark = pytest.mark.django_db

API_KEY = "PKPAGE1234ABCD"
API_SECRET = "paper-secret-page-9876"


@pytest.fixture
def fake(settings):
    clock = ManualClock(datetime(2026, 11, 27, 17, 3, tzinfo=UTC))
    with FakeAlpaca(api_key=API_KEY, secret_key=API_SECRET, clock=clock) as fake:
        settings.ALPACA_PAPER_URL = fake.url
        yield fake


def _add(client, **fields):
    data = {"form": "broker", "account_type": "paper", "api_key": API_KEY, "api_secret": API_SECRET}
    data.update(fields)
    return client.post(reverse("accounts:settings"), data, follow=True)


def test_settings_explain_that_simulation_needs_no_broker(owner_client):
    html = owner_client.get(reverse("accounts:settings")).content.decode()
    assert "No broker connected" in html
    assert 'name="api_secret"' in html and 'type="password"' in html


def test_a_connection_shows_only_the_last_four_characters(owner_client, owner):
    html = _add(owner_client, label="My paper account").content.decode()
    connection = BrokerConnection.objects.get(owner=owner)
    assert connection.api_key == API_KEY  # stored (encrypted at rest)
    assert "…ABCD" in html and "My paper account" in html
    assert API_KEY not in html and API_SECRET not in html
    assert "Not verified yet" in html


def test_bad_keys_are_refused_on_their_fields(owner_client, owner):
    html = _add(owner_client, api_key="short", api_secret="tiny").content.decode()
    assert "Paste the API key ID" in html
    assert not BrokerConnection.objects.filter(owner=owner).exists()


def test_verify_asks_alpaca_and_records_the_account(owner_client, owner, fake):
    _add(owner_client)
    connection = BrokerConnection.objects.get(owner=owner)
    response = owner_client.post(
        reverse("accounts:broker-verify", args=[connection.pk]), follow=True
    )
    connection.refresh_from_db()
    assert connection.is_verified
    assert "Verified: Alpaca account" in response.content.decode()


def test_verify_reports_refused_keys(owner_client, owner, fake):
    _add(owner_client, api_key="PKWRONG12345", api_secret="wrong-secret-123")
    connection = BrokerConnection.objects.get(owner=owner)
    response = owner_client.post(
        reverse("accounts:broker-verify", args=[connection.pk]), follow=True
    )
    connection.refresh_from_db()
    assert connection.status == "failed"
    assert "Alpaca refused the keys" in response.content.decode()


def test_removing_asks_first(owner_client, owner):
    _add(owner_client)
    connection = BrokerConnection.objects.get(owner=owner)
    url = reverse("accounts:broker-remove", args=[connection.pk])
    page = owner_client.post(url).content.decode()
    assert "Remove the connection" in page
    assert BrokerConnection.objects.filter(pk=connection.pk).exists()
    owner_client.post(url, {"confirmed": "yes"})
    assert not BrokerConnection.objects.filter(pk=connection.pk).exists()


def test_a_connection_in_use_is_not_removed(owner_client, owner):
    from pipelines.models import Pipeline
    from pipelines.tests.factories import minimal_graph

    _add(owner_client)
    connection = BrokerConnection.objects.get(owner=owner)
    Pipeline.objects.create(
        owner=owner, name="Paper crew", graph=minimal_graph(), broker_connection=connection
    )
    response = owner_client.post(
        reverse("accounts:broker-remove", args=[connection.pk]), {"confirmed": "yes"}, follow=True
    )
    assert "“Paper crew”" in response.content.decode()
    assert BrokerConnection.objects.filter(pk=connection.pk).exists()


def test_another_users_connection_is_404(client, outsider, owner):
    connection = BrokerConnection.objects.create(
        owner=owner, account_type="paper", api_key=API_KEY, api_secret=API_SECRET, key_last4="ABCD"
    )
    client.force_login(outsider)
    for name in ("broker-verify", "broker-remove"):
        response = client.post(
            reverse(f"accounts:{name}", args=[connection.pk]), {"confirmed": "yes"}
        )
        assert response.status_code == 404
    assert BrokerConnection.objects.filter(pk=connection.pk).exists()
    assert "…ABCD" not in client.get(reverse("accounts:settings")).content.decode()


def test_the_bell_counts_unread_notifications(owner_client, owner, outsider):
    notify(owner=owner, title="Limit hit")
    notify(owner=owner, title="Run failed", level="error")
    notify(owner=outsider, title="Not yours")
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="bell-count">2<' in html
    assert 'aria-label="Notifications: 2 unread"' in html


def test_the_notifications_page_lists_and_marks_them_read(owner_client, owner, outsider):
    mine = notify(owner=owner, title="Limit hit", message="3 of 3 trades", link="/pipelines/")
    notify(owner=outsider, title="Not yours")
    html = owner_client.get(reverse("accounts:notifications")).content.decode()
    assert "Limit hit" in html and "3 of 3 trades" in html and "Not yours" not in html
    assert f'hx-vals=\'{{"ids": "{mine.pk}"}}\'' in html
    response = owner_client.post(
        reverse("accounts:notifications-read"), {"ids": str(mine.pk)}, HTTP_HX_REQUEST="true"
    )
    assert 'id="notif-bell"' in response.content.decode()
    assert 'hx-swap-oob="true"' in response.content.decode()
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert Notification.objects.filter(owner=outsider, read_at__isnull=True).count() == 1


def test_mark_all_read_without_javascript(owner_client, owner):
    notify(owner=owner, title="One")
    notify(owner=owner, title="Two")
    owner_client.post(reverse("accounts:notifications-read"))
    assert not Notification.objects.filter(owner=owner, read_at__isnull=True).exists()


def test_a_new_user_has_an_empty_notifications_page(owner_client):
    assert (
        "No notifications yet"
        in owner_client.get(reverse("accounts:notifications")).content.decode()
    )
