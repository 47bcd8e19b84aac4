"""GET /api/v1/health: 200 when PostgreSQL, Redis and a Celery worker answer; 503 otherwise."""

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker():
    # A real worker thread consuming from the embedded Redis broker.
    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        yield


def test_it_is_ok_when_every_dependency_answers(anon_api, celery_worker, settings):
    settings.HEALTH_CELERY_TIMEOUT = 2.0
    response = anon_api.get("/api/v1/health")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "redis": True,
        "celery": True,
    }


def test_it_is_503_when_no_worker_answers(anon_api, settings):
    settings.HEALTH_CELERY_TIMEOUT = 0.3
    response = anon_api.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["celery"]["ok"] is False
    assert "no Celery worker" in body["checks"]["celery"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_it_is_503_when_redis_is_unreachable(anon_api, settings, tmp_path):
    settings.HEALTH_CELERY_TIMEOUT = 0.3
    settings.REDIS_URL = f"unix://{tmp_path}/nothing-listens-here.sock"
    response = anon_api.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
