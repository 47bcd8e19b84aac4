"""The client address: X-Forwarded-For is believed only from TRUSTED_PROXIES, and the failed-login
lockout holds per (account, address) pair on that address."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from config.core.client_address import client_address, parse_networks

pytestmark = pytest.mark.django_db

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8::/32"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("203.0.113.7", "1.2.3.4", "203.0.113.7"),  # not from a proxy: the header is ignored
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.2", "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a spoofed left-most entry
        ("10.0.0.2", "6.6.6.6, 203.0.113.7, 10.1.1.1", "203.0.113.7"),  # two proxies
        ("10.0.0.2", "10.3.3.3, 10.1.1.1", "10.3.3.3"),  # all proxies: the farthest one
        ("10.0.0.2", "6.6.6.6, not-an-address", "10.0.0.2"),
        ("10.0.0.2", "203.0.113.7:51234", "203.0.113.7"),
        ("2001:db8::1", "[2001:db9::5]:443", "2001:db9::5"),
    ],
)
def test_it_takes_the_right_most_untrusted_address(peer, forwarded_for, expected):
    assert client_address(peer=peer, forwarded_for=forwarded_for, trusted=PROXIES) == expected


def _login(client: Client, email: str, password: str, **headers):
    return client.post(
        reverse("accounts:login"), {"email": email, "password": password}, headers=headers
    )


def test_it_ignores_a_spoofed_forwarded_for_without_a_trusted_proxy(owner, password):
    client = Client(REMOTE_ADDR="198.51.100.20")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _login(client, owner.email, "wrong", **{"X-Forwarded-For": f"6.6.6.{attempt}"})

    response = _login(client, owner.email, password, **{"X-Forwarded-For": "6.6.6.99"})

    assert response.status_code == 403  # rotating the header did not escape the lock
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.20"}


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_it_uses_the_forwarded_address_behind_a_trusted_proxy(owner, password):
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(proxy, owner.email, "wrong", **{"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})

    locked = _login(proxy, owner.email, password, **{"X-Forwarded-For": "203.0.113.7"})
    elsewhere = _login(
        Client(REMOTE_ADDR="10.0.0.2"), owner.email, password, **{"X-Forwarded-For": "198.51.100.4"}
    )

    assert locked.status_code == 403
    assert elsewhere.status_code == 302  # the owner, from their own address, gets in
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_one_accounts_failures_do_not_lock_other_accounts_on_the_address(owner, peer, password):
    client = Client(REMOTE_ADDR="198.51.100.30")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, owner.email, "wrong")

    assert _login(client, owner.email, password).status_code == 403
    assert _login(Client(REMOTE_ADDR="198.51.100.30"), peer.email, password).status_code == 302


def test_a_correct_password_from_another_address_is_not_refused(owner, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(REMOTE_ADDR="198.51.100.40"), owner.email, "wrong")

    response = _login(Client(REMOTE_ADDR="198.51.100.41"), owner.email, password)

    assert response.status_code == 302
