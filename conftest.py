"""Shared test fixtures: an owner, a peer on the same tier, an outsider, and their API clients."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from accounts.token_users import forget_all


class APIClient(Client):
    """A test client that speaks JSON to /api/v1/ and can carry a Bearer token. It checks CSRF
    as a browser's requests are checked (Django's test client skips that by default), so a
    script's POST with a token meets the same API a real client does."""

    def __init__(self, *args, token: str | None = None, **kwargs):
        kwargs.setdefault("enforce_csrf_checks", True)
        super().__init__(*args, **kwargs)
        self.token = token

    def _headers(self, headers):
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def get(self, path, data=None, headers=None, **extra):
        return super().get(path, data, headers=self._headers(headers), **extra)

    def delete(self, path, data="", headers=None, **extra):
        return super().delete(path, data, headers=self._headers(headers), **extra)

    def post(self, path, data=None, headers=None, content_type="application/json", **extra):
        body = json.dumps(data) if content_type == "application/json" and data is not None else data
        return super().post(
            path, body, content_type=content_type, headers=self._headers(headers), **extra
        )

    def patch(self, path, data=None, headers=None, content_type="application/json", **extra):
        body = json.dumps(data) if data is not None else ""
        return super().patch(
            path, body, content_type=content_type, headers=self._headers(headers), **extra
        )

    def put(self, path, data=None, headers=None, content_type="application/json", **extra):
        body = json.dumps(data) if data is not None else ""
        return super().put(
            path, body, content_type=content_type, headers=self._headers(headers), **extra
        )


@pytest.fixture(autouse=True)
def _clean_cache():
    # Throttle counters and axes state live in the cache, users behind tokens in this process's
    # memory (accounts/token_users.py); each test starts from zero.
    cache.clear()
    forget_all()


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com", full_name="Olivia Owner")


@pytest.fixture
def peer(db):
    return UserFactory(email="peer@example.com", full_name="Peter Peer")


@pytest.fixture
def outsider(db):
    return UserFactory(email="outsider@example.com", full_name="Oscar Outsider")


def _token_for(user) -> str:
    from ninja_jwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


@pytest.fixture
def api(owner):
    """The owner's API client (JWT)."""
    return APIClient(token=_token_for(owner))


@pytest.fixture
def outsider_api(outsider):
    return APIClient(token=_token_for(outsider))


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


def pytest_configure(config):
    from django.conf import settings

    # PBKDF2 at production strength costs ~0.3 s per hash; tests hash hundreds of passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
