"""Analytics benchmark: the Analytics page and the performance API over 10,000 closed trades
spread over a year (so a year of daily equity), with their query counts.

Targets (issue 17): p95 ≤ 150 ms for the page and the API; a query count that does not grow
with the number of trades (compared with the same requests over 100 trades).

Run with `make bench` (or `uv run python bench/bench_analytics.py [trades] [requests]`).
"""

from __future__ import annotations

import sys
import time

from common import bench_user, fresh_tables, percentile, setup_django, summary

TARGET_P95_MS = 150.0
TRADES = 10_000
REQUESTS = 40
PIPELINE_PREFIX = "Bench analytics"


def _seed(user, count: int):
    from analytics.tests.factories import many_closed_trades, pipeline
    from pipelines.models import Pipeline
    from trading.models import Trade

    Trade.objects.filter(owner=user).delete()
    Pipeline.objects.filter(owner=user, name__startswith=PIPELINE_PREFIX).delete()
    crews = [pipeline(user, name=f"{PIPELINE_PREFIX} {i}") for i in range(3)]
    many_closed_trades(user, count, days=365, pipelines=crews)
    return crews


def _measure(client, url: str, requests: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, secure=True)  # warm: templates compiled, connection open
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, secure=True)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(url, secure=True)
    return timings, len(queries.captured_queries)


def main(trades: int = TRADES, requests: int = REQUESTS) -> int:
    setup_django()
    from django.conf import settings
    from django.test import Client

    # Pages link their static files; production's manifest exists only after collectstatic,
    # which a benchmark does not run. Plain storage costs the same per URL.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    user = bench_user("bench-analytics@tradecrew.local")
    fresh_tables(user)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    pages = {
        "analytics page": "/analytics/?period=ALL",
        "performance API": "/api/v1/analytics/user/performance?period=ALL",
    }
    _seed(user, 100)
    small = {name: _measure(client, url, 3)[1] for name, url in pages.items()}
    started = time.perf_counter()
    _seed(user, trades)
    print(f"seeded {trades:,} closed trades over 365 days in {time.perf_counter() - started:.1f} s")
    from run_all import print_host_speed

    print_host_speed("before the requests")
    failed = 0
    for name, url in pages.items():
        timings, queries = _measure(client, url, requests)
        p95 = percentile(timings, 95)
        flat = queries == small[name]
        ok = p95 <= TARGET_P95_MS and flat
        failed |= not ok
        print(
            f"{name} ({url}) at {trades:,} trades: {summary(timings)} over {requests} requests; "
            f"{queries} queries ({small[name]} at 100 trades{'' if flat else ' — GROWS'}); "
            f"target p95 ≤ {TARGET_P95_MS:.0f} ms: {'OK' if ok else 'MISSED'}",
            flush=True,
        )
    print_host_speed("after the requests")
    _cursor_against_queryset(user)
    return failed


def _cursor_against_queryset(user, reads: int = 20) -> None:
    """closed_trade_columns reads its rows off the cursor; the same query through the
    queryset, back to back (the figure beside it in analytics/selectors/trades.py)."""
    import os

    from django.db import connection

    from analytics.selectors import closed_trade_rows, scope_for

    scope = scope_for(user=user, period="ALL")
    known = list(scope.pipeline_ids)
    timings = {"off the cursor": [], "through the queryset": []}
    for _ in range(reads):
        queryset = closed_trade_rows(scope, known)
        started = time.perf_counter()
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()
        timings["off the cursor"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        list(closed_trade_rows(scope, known))
        timings["through the queryset"].append((time.perf_counter() - started) * 1000)
    print(f"closed trades read, {reads} of each (load average {os.getloadavg()[0]:.1f})")
    for name, values in timings.items():
        print(f"  {name:<22} {summary(values)}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*args))
