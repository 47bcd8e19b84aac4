"""JWT obtain, refresh (with rotation) and verify at /api/v1/auth/token/…, and the lockout there."""

import pytest
from django.conf import settings

from conftest import APIClient

pytestmark = pytest.mark.django_db

PAIR = "/api/v1/auth/token/pair"
REFRESH = "/api/v1/auth/token/refresh"
VERIFY = "/api/v1/auth/token/verify"


def _pair(anon_api, owner, password):
    response = anon_api.post(PAIR, {"email": owner.email, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def test_obtain_gives_a_working_access_token(anon_api, owner, password):
    tokens = _pair(anon_api, owner, password)
    me = APIClient(token=tokens["access"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == owner.email


def test_obtain_with_a_wrong_password_is_401(anon_api, owner):
    response = anon_api.post(PAIR, {"email": owner.email, "password": "wrong"})
    assert response.status_code == 401
    assert "No active account" in response.json()["detail"]


def test_obtain_without_a_password_names_the_field(anon_api, owner):
    response = anon_api.post(PAIR, {"email": owner.email})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "password"


def test_refresh_rotates_and_the_old_refresh_token_is_dead(anon_api, owner, password):
    tokens = _pair(anon_api, owner, password)
    response = anon_api.post(REFRESH, {"refresh": tokens["refresh"]})
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh"] != tokens["refresh"]
    assert APIClient(token=rotated["access"]).get("/api/v1/me").status_code == 200
    replay = anon_api.post(REFRESH, {"refresh": tokens["refresh"]})
    assert replay.status_code == 401


def test_refresh_with_garbage_is_401(anon_api):
    response = anon_api.post(REFRESH, {"refresh": "not-a-token"})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_verify_accepts_a_valid_token_and_rejects_a_forged_one(anon_api, owner, password):
    tokens = _pair(anon_api, owner, password)
    assert anon_api.post(VERIFY, {"token": tokens["access"]}).status_code == 200
    forged = tokens["access"][:-4] + ("AAAA" if not tokens["access"].endswith("AAAA") else "BBBB")
    assert anon_api.post(VERIFY, {"token": forged}).status_code == 401


def test_an_access_token_of_a_suspended_user_is_refused(anon_api, owner, password):
    tokens = _pair(anon_api, owner, password)
    owner.status = "suspended"
    owner.save()
    assert APIClient(token=tokens["access"]).get("/api/v1/me").status_code == 401
    assert anon_api.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401


def test_repeated_wrong_passwords_lock_token_obtain_with_a_clear_message(anon_api, owner, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        anon_api.post(PAIR, {"email": owner.email, "password": "wrong"})
    response = anon_api.post(PAIR, {"email": owner.email, "password": password})
    assert response.status_code == 403
    assert "locked after too many failed log-in attempts" in response.json()["detail"]
