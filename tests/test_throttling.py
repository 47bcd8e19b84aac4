"""Rate limits hold under real concurrency, per scope, and a Redis outage answers 503."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings

from config.core.throttling import window_admit
from conftest import APIClient
from pipelines.tests.factories import pipeline_payload

# The sliding window is one atomic Lua script, so the documented tolerance is zero: a limit of
# L admits at most L requests per window, however many clients race for them.
TOLERANCE = 0


def test_it_admits_exactly_the_limit_to_sixteen_threads_racing():
    barrier = threading.Barrier(16)

    def client(_):
        barrier.wait()
        return [window_admit(key="race:test", limit=600, window_seconds=60)[0] for _ in range(75)]

    with ThreadPoolExecutor(16) as pool:
        admitted = [ok for results in pool.map(client, range(16)) for ok in results]

    assert len(admitted) == 1200
    assert admitted.count(True) == 600
    # Refused requests are told how long to wait for the oldest slot to free.
    allowed, wait = window_admit(key="race:test", limit=600, window_seconds=60)
    assert not allowed and 0 < wait <= 60


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_clients_get_at_most_the_api_limit_through(owner, api):
    limit = int(settings.API_THROTTLE_RATE.split("/")[0])
    assert settings.API_THROTTLE_RATE.endswith("/min") and limit == 600
    requests_per_client = 50  # 16 × 50 = 800 > 600, all within the minute
    barrier = threading.Barrier(16)

    def client(_):
        barrier.wait()
        try:
            return [api.get("/api/v1/me").status_code for _ in range(requests_per_client)]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(16) as pool:
        statuses = Counter(s for results in pool.map(client, range(16)) for s in results)

    assert statuses[200] <= limit + TOLERANCE
    assert statuses[200] == limit  # and none of the limit was lost either
    assert statuses[429] == 16 * requests_per_client - limit
    response = api.get("/api/v1/me")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json() == {"detail": "Too many requests."}


@pytest.mark.django_db
def test_it_limits_pipeline_creation_more_strictly_per_user(owner, api, peer):
    limit = int(settings.PIPELINE_CREATE_THROTTLE_RATE.split("/")[0])
    body = pipeline_payload()
    # Names are unique per owner: each pipeline gets its own.
    statuses = [
        api.post("/api/v1/pipelines", {**body, "name": f"Pipeline {n}"}).status_code
        for n in range(limit + 1)
    ]

    assert statuses == [201] * limit + [429]
    assert owner.pipelines.count() == limit
    # Another user's limit is their own, and other endpoints are not affected.
    peer_api = APIClient(token=_token(peer))
    assert peer_api.post("/api/v1/pipelines", body).status_code == 201
    assert api.get("/api/v1/pipelines").status_code == 200


def _token(user) -> str:
    from ninja_jwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


@pytest.mark.django_db
def test_a_redis_outage_answers_503_with_retry_after(api, owner):
    # The real client library, pointed at a socket nobody listens on.
    dead = {**settings.CACHES["default"], "LOCATION": "unix:///nonexistent/redis.sock"}
    with override_settings(CACHES={"default": dead}):
        response = api.get("/api/v1/me")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "unavailable" in response.json()["detail"]


def _script_calls() -> int:
    from config.core.throttling import throttle_redis

    stats = throttle_redis().info("commandstats")
    return sum(stats.get(name, {}).get("calls", 0) for name in ("cmdstat_evalsha", "cmdstat_eval"))


@pytest.mark.django_db
def test_it_checks_every_limit_of_a_request_in_one_redis_call(owner, api):
    from config.core.throttling import throttle_redis

    api.get("/api/v1/pipelines")  # the script is loaded into Redis
    throttle_redis().config_resetstat()

    assert api.get("/api/v1/pipelines").status_code == 200
    assert _script_calls() == 1
    # Creating has a stricter limit of its own besides the API's: still one call.
    assert api.post("/api/v1/pipelines", pipeline_payload()).status_code == 201
    assert _script_calls() == 2


def test_it_counts_a_refused_request_against_no_limit():
    from config.core.throttling import Window, windows_admit

    roomy, full = Window("roomy:test", 100, 60), Window("full:test", 2, 60)
    results = [windows_admit(windows=[roomy, full])[0] for _ in range(5)]

    assert results == [True, True, False, False, False]
    # The roomy window counted only the two admitted requests.
    assert [windows_admit(windows=[roomy])[0] for _ in range(98)] == [True] * 98
    assert windows_admit(windows=[roomy])[0] is False
