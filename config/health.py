"""Health of the services Tradecrew depends on: PostgreSQL, Redis and at least one Celery worker."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection


@dataclass
class Check:
    ok: bool
    detail: str
    latency_ms: float


def _timed(probe) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as error:
        detail, ok = f"{type(error).__name__}: {error}", False
    return Check(ok=ok, detail=detail, latency_ms=round((time.perf_counter() - started) * 1000, 1))


def check_database() -> Check:
    def probe() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"

    return _timed(probe)


def check_redis() -> Check:
    def probe() -> str:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        try:
            client.ping()
        finally:
            client.close()
        return "ok"

    return _timed(probe)


def check_celery(*, app=None, timeout: float | None = None) -> Check:
    from config.celery import app as default_app

    app = app or default_app

    def probe() -> str:
        replies = app.control.ping(timeout=timeout or settings.HEALTH_CELERY_TIMEOUT, limit=1)
        if not replies:
            raise RuntimeError("no Celery worker answered a ping")
        return f"{len(replies)} worker(s) answered"

    return _timed(probe)


def system_health(*, celery_app=None) -> dict[str, Check]:
    return {
        "database": check_database(),
        "redis": check_redis(),
        "celery": check_celery(app=celery_app),
    }
