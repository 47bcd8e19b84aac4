"""A JWT's user is looked up once per TTL_SECONDS in a process, and forgotten when it changes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from ninja_jwt.tokens import AccessToken

from accounts import token_users
from accounts.models import UserStatus
from conftest import APIClient

pytestmark = pytest.mark.django_db

USERS_TABLE = 'FROM "accounts_user"'


def _user_lookups(client: APIClient, path: str = "/api/v1/positions") -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, sum(USERS_TABLE in query["sql"] for query in queries)


@pytest.fixture
def jwt_api(owner):
    return APIClient(token=str(AccessToken.for_user(owner)))


def test_it_reads_the_user_once_for_many_requests(jwt_api):
    assert _user_lookups(jwt_api) == (200, 1)
    assert _user_lookups(jwt_api) == (200, 0)
    assert _user_lookups(jwt_api) == (200, 0)


def test_it_reads_the_user_again_after_the_ttl(jwt_api, monkeypatch):
    monkeypatch.setattr(token_users, "TTL_SECONDS", 0)
    assert _user_lookups(jwt_api) == (200, 1)
    assert _user_lookups(jwt_api) == (200, 1)


def test_it_refuses_a_deactivated_user_at_once(jwt_api, owner):
    assert jwt_api.get("/api/v1/positions").status_code == 200
    owner.status = UserStatus.SUSPENDED
    owner.save()

    response = jwt_api.get("/api/v1/positions")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_it_sees_a_change_saved_to_the_user(jwt_api, owner):
    assert jwt_api.get("/api/v1/me").json()["full_name"] == owner.full_name
    owner.full_name = "Renamed Trader"
    owner.save()

    assert jwt_api.get("/api/v1/me").json()["full_name"] == "Renamed Trader"


def test_it_gives_every_request_its_own_copy(owner):
    from accounts.auth import _jwt

    token = _jwt.get_validated_token(str(AccessToken.for_user(owner)))
    first = token_users.token_user(jwt=_jwt, validated_token=token)
    first.full_name = "changed by one request, never saved"
    second = token_users.token_user(jwt=_jwt, validated_token=token)

    assert second is not first
    assert second.pk == owner.pk
    assert second.full_name == owner.full_name


def test_another_users_token_is_their_own(jwt_api, owner, outsider):
    outsider_api = APIClient(token=str(AccessToken.for_user(outsider)))
    assert jwt_api.get("/api/v1/me").json()["email"] == owner.email
    assert outsider_api.get("/api/v1/me").json()["email"] == outsider.email
    assert jwt_api.get("/api/v1/me").json()["email"] == owner.email
