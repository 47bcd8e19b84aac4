"""The REST API under concurrency, served by daphne as the Procfile's `web` runs it.

Part 1: CLIENTS concurrent clients (httpx, async, keep-alive) send `GET /api/v1/positions` with a
JWT for SECONDS; printed: requests that failed (status other than 200, or no answer), requests
per second, p50/p95 latency, and the most PostgreSQL connections the server held at once
(sampled from pg_stat_activity by application_name) next to its pool's max_size. It runs twice
in the same run: with the connection pool (the default) and, for the before figure, with the
old setting (no pool, DATABASE_CONN_MAX_AGE=60: each request thread kept its own connection).

Part 2: one client sends `GET /api/v1/pipelines` at PIPELINES pipelines: the default summary
shape and `?expand=graph` (every pipeline's full graph, the shape every list had before):
p50/p95 and bytes per answer.

The API's rate limit is raised for the run (the throttle still runs: its Redis call is part of
the cost measured). On a shared 2-core machine the figures move with the neighbours; the load
average is printed beside them. `uv run python bench/bench_api.py [clients] [seconds]`.
"""

from __future__ import annotations

import asyncio
import os
import signal as os_signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlparse

from common import ROOT, bench_user, percentile, setup_django

PORT = int(os.environ.get("BENCH_API_PORT", "8860"))
CLIENTS = 100
SECONDS = 30
PIPELINES = 100
POSITIONS = 20
APPLICATION_NAME = "tradecrew-bench-api"
LOG = ROOT / "var" / "log" / "bench-api-web.log"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- Data -------------------------------------------------------------------------------------


def seed(user) -> None:
    """PIPELINES pipelines with the engine benchmark's 7-agent graph, POSITIONS open positions."""
    from bench_engine import SEVEN_AGENTS

    from pipelines.models import Pipeline
    from trading.models import Mode, Position, PositionSide

    Pipeline.objects.filter(owner=user).delete()
    Position.objects.filter(owner=user).delete()
    Pipeline.objects.bulk_create(
        Pipeline(
            owner=user,
            name=f"api bench {n}",
            graph=SEVEN_AGENTS,
            symbols=["TSLA", "AAPL", "MSFT"],
            trading_mode="SIMULATION",
        )
        for n in range(PIPELINES)
    )
    now = datetime.now(UTC)
    Position.objects.bulk_create(
        Position(
            owner=user,
            trading_mode=Mode.SIMULATION,
            symbol=f"SYM{n:02d}",
            side=PositionSide.LONG,
            quantity=10 + n,
            average_price=Decimal("100.25") + n,
            current_price=Decimal("101.50") + n,
            unrealized_pnl=Decimal("12.50"),
            stop_loss=Decimal("95"),
            target_1=Decimal("110"),
            target_2=Decimal("120"),
            opened_at=now,
        )
        for n in range(POSITIONS)
    )


def access_token(user) -> str:
    from ninja_jwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


# --- The server -------------------------------------------------------------------------------


def _server_database_url() -> str:
    from django.conf import settings

    parsed = urlparse(settings.DATABASE_URL)
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    query["application_name"] = APPLICATION_NAME
    return parsed._replace(query=urlencode(query)).geturl()


def server_start(extra_env: dict[str, str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _server_database_url(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_RATE": "100000000/min",
        **extra_env,
    }
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("ab") as log:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                *(sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(PORT)),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    import httpx

    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{PORT}/api/v1/agents", timeout=2)
            return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"daphne did not start; see {LOG}")
        time.sleep(0.25)


def server_stop(server: subprocess.Popen) -> None:
    server.send_signal(os_signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


class ConnectionSampler(threading.Thread):
    """Counts the server's PostgreSQL connections every 50 ms on a connection of its own."""

    def __init__(self):
        super().__init__(daemon=True)
        self.most = 0
        self._finished = threading.Event()

    def run(self) -> None:
        import psycopg
        from django.conf import settings

        with psycopg.connect(settings.DATABASE_URL, autocommit=True) as connection:
            while not self._finished.is_set():
                (count,) = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    [APPLICATION_NAME],
                ).fetchone()
                self.most = max(self.most, count)
                self._finished.wait(0.05)

    def stop(self) -> int:
        self._finished.set()
        self.join()
        return self.most


# --- Load -------------------------------------------------------------------------------------


async def _hammer(path: str, token: str, clients: int, seconds: float):
    import httpx

    latencies: list[float] = []
    failures: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{PORT}", headers=headers, limits=limits, timeout=60
    ) as client:
        deadline = time.perf_counter() + seconds

        async def one_client():
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError as error:
                    failures[type(error).__name__] += 1
                    continue
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failures[str(response.status_code)] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, failures, elapsed


def concurrency(label: str, token: str, clients: int, seconds: float, extra_env: dict) -> None:
    server = server_start(extra_env)
    try:
        pool_size = _pool_max_size(extra_env)
        asyncio.run(_hammer("/api/v1/positions", token, 10, 2))  # warm up
        sampler = ConnectionSampler()
        sampler.start()
        latencies, failures, elapsed = asyncio.run(
            _hammer("/api/v1/positions", token, clients, seconds)
        )
        most_connections = sampler.stop()
    finally:
        server_stop(server)
    answered = len(latencies) + sum(failures.values())
    failed = ", ".join(f"{count} × {kind}" for kind, count in failures.most_common()) or "none"
    print(
        f"GET /api/v1/positions, {label}: {clients} clients × {seconds:.0f} s: "
        f"{answered} requests, {sum(failures.values())} errors ({failed}), "
        f"{len(latencies) / elapsed:.0f} req/s; "
        + (
            f"p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 95):.1f} ms; "
            if latencies
            else ""
        )
        + f"PostgreSQL connections at most {most_connections} (pool max_size {pool_size}) "
        f"[{load()}]",
        flush=True,
    )


def _pool_max_size(extra_env: dict) -> str:
    if extra_env.get("DATABASE_POOL") == "false":
        return "none: no pool"
    from django.conf import settings

    pool = settings.DATABASES["default"]["OPTIONS"].get("pool")
    if not pool:
        return "none: no pool"
    return str(pool.get("max_size", 4) if isinstance(pool, dict) else 4)


# --- The pipelines list -----------------------------------------------------------------------


def pipelines_list(token: str, requests: int = 100) -> None:
    import httpx

    server = server_start({})
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{PORT}", headers=headers) as client:
            for label, path in [
                ("summary (default)", "/api/v1/pipelines"),
                ("?expand=graph", "/api/v1/pipelines?expand=graph"),
            ]:
                for _ in range(5):  # warm up
                    client.get(path).raise_for_status()
                latencies, size, count = [], 0, 0
                for _ in range(requests):
                    started = time.perf_counter()
                    response = client.get(path)
                    latencies.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                    size = len(response.content)
                    body = response.json()
                    count = body["count"] if isinstance(body, dict) else len(body)
                print(
                    f"GET {path} ({label}) at {count} pipelines: "
                    f"p50 {statistics.median(latencies):.1f} ms, "
                    f"p95 {percentile(latencies, 95):.1f} ms, {size / 1024:.0f} KB "
                    f"[{load()}]",
                    flush=True,
                )
    finally:
        server_stop(server)


if __name__ == "__main__":
    setup_django()
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else CLIENTS
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else SECONDS
    user = bench_user("bench-api@tradecrew.local")
    seed(user)
    token = access_token(user)
    from django.db import connection

    connection.close()  # the bench holds no connection while the server is measured
    concurrency("with the pool", token, clients, seconds, {})
    concurrency(
        "before: no pool, CONN_MAX_AGE=60",
        token,
        clients,
        seconds,
        {"DATABASE_POOL": "false", "DATABASE_CONN_MAX_AGE": "60"},
    )
    pipelines_list(token)
