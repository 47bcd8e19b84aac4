"""Password change in Settings and password reset by e-mail (Django's auth views)."""

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-passphrase-77"


def test_it_links_the_password_change_from_settings(owner_client):
    response = owner_client.get(reverse("accounts:settings"))
    assert response.status_code == 200
    assert reverse("accounts:password-change").encode() in response.content


def test_it_changes_the_password_and_keeps_this_session(owner_client, owner, password):
    response = owner_client.post(
        reverse("accounts:password-change"),
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    followed = owner_client.get(response["Location"], follow=True)
    assert followed.status_code == 200
    assert b"Password changed" in followed.content


def test_it_refuses_a_wrong_old_password_and_changes_nothing(owner_client, owner, password):
    response = owner_client.post(
        reverse("accounts:password-change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert b"old password was entered incorrectly" in response.content
    owner.refresh_from_db()
    assert owner.check_password(password)


def test_it_needs_a_login_to_change_a_password(client):
    response = client.get(reverse("accounts:password-change"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_it_resets_a_password_through_the_emailed_link(client, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = client.post(reverse("accounts:password-reset"), {"email": owner.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password-reset-done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body)[1]
    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    # The link works once.
    again = client.get(link, follow=True)
    assert b"no longer works" in again.content


def test_it_sends_nothing_for_an_unknown_address_and_says_the_same(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_it_prints_reset_emails_to_the_console_without_a_mail_server():
    # The test runner swaps the backend for locmem, so read what settings.py itself chooses.
    import runpy

    module = runpy.run_path(str(settings_path()))
    assert module["EMAIL_HOST"] is None
    assert module["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def settings_path():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "config" / "settings.py"


def test_the_lockout_page_links_to_the_reset(client, owner, password):
    for _ in range(10):
        response = client.post(
            reverse("accounts:login"), {"email": owner.email, "password": "wrong"}
        )
        if response.status_code == 403:
            break
    assert response.status_code == 403
    assert reverse("accounts:password-reset").encode() in response.content
