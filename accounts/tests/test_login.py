"""Log-in and log-out pages, and the failed-login lockout."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_root_shows_the_login_page_to_a_visitor(client):
    response = client.get("/", follow=True)
    assert response.status_code == 200
    assert b"Log in to Tradecrew" in response.content


def test_it_logs_in_with_email_and_password(client, owner, password):
    response = client.post(
        reverse("accounts:login"), {"email": "Owner@Example.com", "password": password}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    owner.refresh_from_db()
    assert owner.last_login is not None


def test_it_rejects_a_wrong_password(client, owner):
    response = client.post(reverse("accounts:login"), {"email": owner.email, "password": "nope"})
    assert response.status_code == 200
    assert b"do not match an account" in response.content


def test_it_follows_a_safe_next_and_ignores_an_external_one(client, owner, password):
    response = client.post(
        reverse("accounts:login") + "?next=/accounts/settings/",
        {"email": owner.email, "password": password},
    )
    assert response["Location"] == "/accounts/settings/"
    client.logout()
    response = client.post(
        reverse("accounts:login") + "?next=https://evil.example/",
        {"email": owner.email, "password": password},
    )
    assert response["Location"] == reverse("dashboard")


def test_repeated_wrong_passwords_lock_the_account(client, owner, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"email": owner.email, "password": "wrong"})
    # Even the right password is refused while the account is locked, with a clear message.
    response = client.post(reverse("accounts:login"), {"email": owner.email, "password": password})
    assert response.status_code == 403
    assert b"locked after too many failed log-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_account(client, owner, peer, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"email": owner.email, "password": "wrong"})
    other = client.__class__(REMOTE_ADDR="10.0.0.9")
    response = other.post(reverse("accounts:login"), {"email": peer.email, "password": password})
    assert response.status_code == 302


def test_logout_needs_post(owner_client):
    assert owner_client.get(reverse("accounts:logout")).status_code == 405
    response = owner_client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert owner_client.get(reverse("dashboard")).status_code == 302
