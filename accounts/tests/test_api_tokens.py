"""Personal API tokens: create (shown once), list, authenticate, revoke; owner-scoped."""

import pytest

from accounts.models import APIToken
from conftest import APIClient

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/auth/api-tokens"


def test_create_returns_the_token_once_and_stores_only_its_hash(api, owner):
    response = api.post(TOKENS, {"name": "TradingView webhook"})
    assert response.status_code == 201
    body = response.json()
    raw = body["token"]
    assert raw.startswith("tc_")
    stored = APIToken.objects.get(pk=body["id"])
    assert stored.user == owner
    assert stored.token_hash == APIToken.hash_token(raw)
    assert raw not in {stored.token_hash, stored.display_prefix, stored.name}
    listed = api.get(TOKENS).json()
    assert [item["name"] for item in listed] == ["TradingView webhook"]
    assert "token" not in listed[0]


def test_a_token_authenticates_as_a_bearer_and_a_revoked_one_gets_401(api, owner):
    created = api.post(TOKENS, {"name": "script"}).json()
    script = APIClient(token=created["token"])
    response = script.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == owner.email
    assert APIToken.objects.get(pk=created["id"]).last_used_at is not None

    assert api.delete(f"{TOKENS}/{created['id']}").status_code == 204
    assert APIToken.objects.get(pk=created["id"]).revoked_at is not None
    refused = script.get("/api/v1/me")
    assert refused.status_code == 401
    assert "detail" in refused.json()


def test_a_name_is_required(api):
    response = api.post(TOKENS, {"name": ""})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "name"
    assert not APIToken.objects.exists()


def test_another_user_cannot_see_or_revoke_my_tokens(api, outsider_api):
    created = api.post(TOKENS, {"name": "mine"}).json()
    assert outsider_api.get(TOKENS).json() == []
    response = outsider_api.delete(f"{TOKENS}/{created['id']}")
    assert response.status_code == 404
    assert APIToken.objects.get(pk=created["id"]).revoked_at is None


def test_anonymous_requests_are_401(anon_api):
    assert anon_api.get(TOKENS).status_code == 401
    assert APIClient(token="tc_not-a-real-token").get(TOKENS).status_code == 401


def test_tokens_page_creates_shows_once_and_revokes(owner_client, owner):
    response = owner_client.post("/accounts/settings/", {"form": "token", "name": "cron job"})
    assert response.status_code == 200
    token = APIToken.objects.get(user=owner)
    assert b"will not be shown again" in response.content
    assert owner_client.get("/accounts/settings/").content.count(b"tc_") == 1  # the prefix only
    owner_client.post(f"/accounts/settings/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_script_posts_with_its_token_and_a_browser_session_needs_its_csrf_token(owner, api):
    # A script: a Bearer token and no cookies, so no CSRF token either.
    created = api.post("/api/v1/auth/api-tokens", {"name": "cron"})
    assert created.status_code == 201, created.content
    # A browser session must send the CSRF token with an unsafe request.
    browser = APIClient()
    browser.force_login(owner)
    assert browser.get("/api/v1/me").status_code == 200
    refused = browser.post("/api/v1/auth/api-tokens", {"name": "forged"})
    assert refused.status_code == 403
    browser.get("/accounts/settings/")  # a page, which sets the CSRF cookie
    allowed = browser.post(
        "/api/v1/auth/api-tokens",
        {"name": "from the page"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert allowed.status_code == 201, allowed.content
