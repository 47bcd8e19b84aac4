"""Sign-up page and the user_create service."""

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_it_shows_the_signup_form(client):
    response = client.get(reverse("accounts:signup"))
    assert response.status_code == 200
    assert b'name="email"' in response.content


def test_it_creates_the_account_and_logs_in(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "full_name": "Ada Trader",
            "email": "Ada@Example.com",
            "password": "a-long-passphrase-42",
            "password_again": "a-long-passphrase-42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get()
    assert user.email == "ada@example.com"
    assert user.full_name == "Ada Trader"
    assert user.subscription_tier == "FREE"
    assert user.check_password("a-long-passphrase-42")
    assert client.get(reverse("dashboard")).status_code == 200


def test_it_refuses_a_duplicate_email_and_writes_nothing(client, owner):
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "OWNER@example.com",
            "password": "a-long-passphrase-42",
            "password_again": "a-long-passphrase-42",
        },
    )
    assert response.status_code == 200
    assert b"already exists" in response.content
    assert User.objects.count() == 1


def test_it_refuses_a_weak_password(client):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "new@example.com", "password": "12345678", "password_again": "12345678"},
    )
    assert response.status_code == 200
    assert b"too common" in response.content or b"entirely numeric" in response.content
    assert not User.objects.exists()


def test_it_refuses_mismatched_passwords(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "new@example.com",
            "password": "a-long-passphrase-42",
            "password_again": "another-passphrase-42",
        },
    )
    assert b"The two passwords differ." in response.content
    assert not User.objects.exists()


def test_it_gives_new_accounts_the_documented_default_budgets(client, settings):
    from decimal import Decimal

    client.post(
        reverse("accounts:signup"),
        {
            "full_name": "Ada Trader",
            "email": "ada@example.com",
            "password": "a-long-passphrase-42",
            "password_again": "a-long-passphrase-42",
        },
    )
    user = User.objects.get()
    assert user.budget_limit_daily == Decimal("10.00") == settings.DEFAULT_DAILY_BUDGET
    assert user.budget_limit_monthly == Decimal("200.00") == settings.DEFAULT_MONTHLY_BUDGET


def test_it_limits_sign_up_attempts_per_address(client, owner):
    from accounts.models import User
    from accounts.views import SIGNUP_ATTEMPTS_PER_HOUR

    attempt = {"email": owner.email, "password": "x", "full_name": "Probe"}
    for _ in range(SIGNUP_ATTEMPTS_PER_HOUR):
        assert client.post(reverse("accounts:signup"), attempt).status_code == 200
    response = client.post(
        reverse("accounts:signup"),
        {"email": "new@example.com", "password": "a long pass phrase 42", "full_name": "New"},
    )

    assert response.status_code == 429
    assert b"Too many sign-up attempts" in response.content
    assert not User.objects.filter(email="new@example.com").exists()
