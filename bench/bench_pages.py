"""Pages-with-history benchmark: the dashboard, positions and trades pages of one trader with
100 pipelines (20 runs each), 10,000 trades (each with its position, 100 of them still open),
through Django's test Client with DEBUG off, with their query counts.

Targets (issue 16): p95 ≤ 150 ms for each page; a query count that does not grow with the
history (compared with the same requests over a small history).

Figures on the shared 2-core VM, 2026-12-02 (p50 / p95 over 50 requests; host reference loop
0.31 s before, 0.38 s after, quiet 0.40 s; load 3.4-7 from the other engineers):
- before (e0cbbc9, load 4.2-7.1): dashboard 173 / 367 ms, positions (100 rows) 95 / 193 ms,
  trades 67 / 145 ms, trades filtered 95 / 293 ms, trades page 101 (OFFSET) 78 / 143 ms.
- after (load 3.4): dashboard 36 / 40 ms, positions (50 rows) 19 / 23 ms, trades 20 / 22 ms,
  trades filtered 19 / 23 ms, trades 5,000 rows down (keyset) 28 / 119 ms.
Query counts are flat: dashboard 10, positions 6, trades 6 (before: 9, 5, 7, also flat; the
dashboard's cost was one query whose join ran the card subqueries 1,041 times).

Run with `make bench` (or `uv run python bench/bench_pages.py [trades] [requests]`).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from decimal import Decimal

from common import bench_user, fresh_tables, percentile, setup_django, summary

TARGET_P95_MS = 150.0
TRADES = 10_000
PIPELINES = 100
RUNS_PER_PIPELINE = 20
OPEN_POSITIONS = 100
REQUESTS = 50
PIPELINE_PREFIX = "Bench pages"
PAGES = {
    "dashboard": "/",
    "positions": "/trading/positions/",
    "trades": "/trading/trades/",
    "trades, filtered": "/trading/trades/?symbol=AAPL&trading_mode=SIMULATION",
}


def _seed_pipelines(user, count: int) -> list:
    from pipelines.models import Pipeline, PipelineExecution
    from pipelines.tests.factories import minimal_graph

    Pipeline.objects.filter(owner=user, name__startswith=PIPELINE_PREFIX).delete()
    pipelines = Pipeline.objects.bulk_create(
        Pipeline(
            owner=user,
            name=f"{PIPELINE_PREFIX} {n:03d}",
            graph=minimal_graph(),
            status="active" if n % 2 else "paused",
        )
        for n in range(count)
    )
    PipelineExecution.objects.bulk_create(
        (
            PipelineExecution(
                pipeline=pipeline, owner=user, trading_mode="SIMULATION", status="completed"
            )
            for pipeline in pipelines
            for _ in range(RUNS_PER_PIPELINE)
        ),
        batch_size=2000,
    )
    return pipelines


def _seed_open_positions(user, pipelines: list, count: int) -> None:
    """`count` open trades, each with its open position, in distinct symbols."""
    from django.utils import timezone

    from trading.models import Position, Trade

    now = timezone.now()
    trades = []
    for n in range(count):
        trades.append(
            Trade(
                owner=user,
                trading_mode="SIMULATION",
                pipeline_id=pipelines[n % len(pipelines)].pk,
                symbol=f"B{n:03d}",
                side="long",
                quantity=10,
                remaining_quantity=10,
                requested_entry_price=Decimal("100"),
                entry_price=Decimal("100"),
                stop_loss=Decimal("95"),
                initial_stop_loss=Decimal("95"),
                target_1=Decimal("105"),
                target_2=Decimal("110"),
                opened_at=now - timedelta(minutes=n),
            )
        )
    trades = Trade.objects.bulk_create(trades)
    Position.objects.bulk_create(
        Position(
            owner=user,
            trading_mode="SIMULATION",
            symbol=trade.symbol,
            side="long",
            quantity=10,
            average_price=Decimal("100"),
            current_price=Decimal("100") + Decimal(n % 7 - 3),
            unrealized_pnl=Decimal(n % 7 - 3) * 10,
            stop_loss=Decimal("95"),
            target_1=Decimal("105"),
            target_2=Decimal("110"),
            pipeline_id=trade.pipeline_id,
            opened_at=trade.opened_at,
            trade=trade,
        )
        for n, trade in enumerate(trades)
    )


def _seed_closed_positions(user, trades: list) -> None:
    """The closed position each closed trade leaves behind, as the ledger keeps them."""
    from trading.models import Position

    Position.objects.bulk_create(
        (
            Position(
                owner=user,
                trading_mode=trade.trading_mode,
                symbol=trade.symbol,
                side=trade.side,
                quantity=trade.quantity,
                average_price=trade.entry_price,
                current_price=trade.exit_price,
                status="closed",
                monitoring=False,
                pipeline_id=trade.pipeline_id,
                opened_at=trade.opened_at,
                closed_at=trade.closed_at,
                trade=trade,
            )
            for trade in trades
        ),
        batch_size=2000,
    )


def _seed(user, trades: int, pipelines: int, open_positions: int) -> None:
    from analytics.tests.factories import many_closed_trades

    fresh_tables(user)
    crews = _seed_pipelines(user, pipelines)
    open_positions = min(open_positions, trades)
    closed = many_closed_trades(user, trades - open_positions, days=365, pipelines=crews)
    _seed_closed_positions(user, closed)
    _seed_open_positions(user, crews, open_positions)
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("trading_trade", "trading_position", "pipelines_pipelineexecution"):
            cursor.execute(f"ANALYZE {table}")


def _deep_trades_url(user, depth: int) -> str:
    """The trades page `depth` rows down the history, as the "Older" links reach it."""
    from trading.keyset import cursor_for
    from trading.models import Trade

    trade = Trade.objects.filter(owner=user).order_by("-opened_at", "-pk")[depth]
    return f"/trading/trades/?older={cursor_for(trade.opened_at, trade.pk)}"


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
    from run_all import print_host_speed

    user = bench_user("bench-pages@tradecrew.local")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    _seed(user, 60, 10, 10)
    pages = {**PAGES, "trades, deep page": _deep_trades_url(user, 30)}
    small = {name: _measure(client, url, 3)[1] for name, url in pages.items()}
    started = time.perf_counter()
    _seed(user, trades, PIPELINES, OPEN_POSITIONS)
    print(
        f"seeded {PIPELINES} pipelines ({PIPELINES * RUNS_PER_PIPELINE:,} runs), {trades:,} "
        f"trades, {OPEN_POSITIONS} open positions in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    pages["trades, deep page"] = _deep_trades_url(user, trades // 2)
    print_host_speed("before the requests")
    failed = 0
    for name, url in pages.items():
        load = os.getloadavg()
        timings, queries = _measure(client, url, requests)
        p95 = percentile(timings, 95)
        flat = queries == small[name]
        ok = p95 <= TARGET_P95_MS and flat
        failed |= not ok
        print(
            f"{name} ({url}): {summary(timings)} over {requests} requests "
            f"(load {load[0]:.2f} {load[1]:.2f}); {queries} queries ({small[name]} with a small "
            f"history{'' if flat else ' — GROWS'}); target p95 ≤ {TARGET_P95_MS:.0f} ms: "
            f"{'OK' if ok else 'MISSED'}",
            flush=True,
        )
    print_host_speed("after the requests")
    return failed


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*args))
