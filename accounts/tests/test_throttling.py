"""Throttling: too many requests get 429 with a JSON detail."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_auth_endpoints_are_throttled_per_client(anon_api):
    limit = int(settings.API_AUTH_THROTTLE_RATE.split("/")[0])
    statuses = [
        anon_api.post("/api/v1/auth/token/verify", {"token": "x"}).status_code
        for _ in range(limit + 1)
    ]
    assert statuses[:limit] == [401] * limit
    assert statuses[-1] == 429
    response = anon_api.post("/api/v1/auth/token/verify", {"token": "x"})
    assert response.status_code == 429
    assert "detail" in response.json()
