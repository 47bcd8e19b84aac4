"""Each process's database connections come from a bounded pool: many threads share at most
DATABASE_POOL_MAX_SIZE connections, a request that finds none free in time answers 503, and the
settings refuse a persistent-connection age the pool cannot honour."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from psycopg_pool import PoolTimeout

from config.settings import _database_from_url

THREADS = 25


def test_it_pools_connections_by_default(monkeypatch):
    for name in ("DATABASE_POOL", "DATABASE_POOL_MAX_SIZE", "DATABASE_CONN_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    database = _database_from_url(settings.DATABASE_URL)
    assert database["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 10, "timeout": 30}
    assert database["CONN_MAX_AGE"] == 0


def test_it_sizes_the_pool_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_POOL_MIN_SIZE", "1")
    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "4")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "5")
    assert _database_from_url(settings.DATABASE_URL)["OPTIONS"]["pool"] == {
        "min_size": 1,
        "max_size": 4,
        "timeout": 5,
    }


def test_it_refuses_a_connection_age_with_the_pool(monkeypatch):
    monkeypatch.delenv("DATABASE_POOL", raising=False)
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "60")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE"):
        _database_from_url(settings.DATABASE_URL)


def test_it_refuses_a_pool_smaller_than_its_minimum(monkeypatch):
    monkeypatch.setenv("DATABASE_POOL_MIN_SIZE", "5")
    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "2")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOL_MAX_SIZE=2"):
        _database_from_url(settings.DATABASE_URL)


def test_it_keeps_connections_per_thread_without_the_pool(monkeypatch):
    # The PgBouncer set-up: no pool of ours, each thread's connection kept 60 s by default.
    monkeypatch.setenv("DATABASE_POOL", "false")
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)
    database = _database_from_url(settings.DATABASE_URL)
    assert "pool" not in database["OPTIONS"]
    assert database["CONN_MAX_AGE"] == 60


class _ConnectionCounter(threading.Thread):
    """The most connections to the test database, sampled on a connection outside the pool."""

    def __init__(self, params: dict):
        super().__init__(daemon=True)
        self.params = params
        self.most = 0
        self.finished = threading.Event()

    def run(self) -> None:
        with psycopg.connect(**self.params, autocommit=True) as sampler:
            while not self.finished.is_set():
                (count,) = sampler.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
                self.most = max(self.most, count)
                self.finished.wait(0.01)


@pytest.mark.django_db(transaction=True)
def test_it_holds_many_threads_to_the_pool_size():
    pool_size = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    assert 2 * pool_size < THREADS
    params = connection.get_connection_params()
    counter = _ConnectionCounter(
        {
            key: params[key]
            for key in ("dbname", "user", "password", "host", "port")
            if key in params
        }
    )
    counter.start()
    answers: list[int] = []
    start = threading.Barrier(THREADS)

    def request_like():
        # What a request thread does: query, then give the connection back as it ends.
        start.wait()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_sleep(0.1)")
                answers.append(cursor.fetchone()[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=request_like) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counter.finished.set()
    counter.join()
    assert answers == [1] * THREADS
    assert 0 < counter.most <= pool_size


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_no_connection_frees_in_time(owner):
    from ninja_jwt.tokens import AccessToken

    token = str(AccessToken.for_user(owner))
    pool = connection.pool
    held = []
    timeout = pool.timeout
    try:
        while True:  # every connection the pool may open, busy elsewhere
            held.append(pool.getconn(timeout=0.5))
    except PoolTimeout:
        pass

    def api_call(answer: dict) -> None:
        response = Client().get("/api/v1/positions", headers={"Authorization": f"Bearer {token}"})
        answer["status"], answer["retry_after"] = response.status_code, response.get("Retry-After")
        answer["json"] = response.json()
        connection.close()

    refused, served = {}, {}
    try:
        pool.timeout = 0.5
        _in_a_thread(api_call, refused)
    finally:
        pool.timeout = timeout
        for held_connection in held:
            pool.putconn(held_connection)
    assert len(held) >= pool.max_size - 1  # this thread's own connection is the last one
    assert refused == {
        "status": 503,
        "retry_after": "5",
        "json": {"detail": "A service this request needs is unavailable; try again shortly."},
    }
    # Given back, the connections serve the next request (from a thread of its own, as daphne's).
    _in_a_thread(api_call, served)
    assert served["status"] == 200


def _in_a_thread(target, *args) -> None:
    thread = threading.Thread(target=target, args=args)
    thread.start()
    thread.join()
