"""Shared set-up for benchmarks: Django on the configured (embedded) services, a bench user."""

from __future__ import annotations

import base64
import os
import resource
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The production code path (DEBUG off: no debug cursor logging every query). Production
    # refuses to start without its secrets; a benchmark gets throwaway ones unless set.
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the figures, not a log line per HTTP call
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
    if not os.environ.get("FIELD_ENCRYPTION_KEYS"):
        os.environ["FIELD_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    # Benchmarks use their own Redis databases, away from a running system and the tests.
    os.environ.setdefault("REDIS_DB_BASE", "4")
    import django

    django.setup()


def bench_user(email: str = "bench@tradecrew.local"):
    from accounts.models import User, UserStatus

    user, _ = User.objects.get_or_create(email=email, defaults={"full_name": "Bench"})
    user.status = UserStatus.ACTIVE
    user.budget_limit_daily = None
    user.budget_limit_monthly = None
    user.save()
    return user


def fresh_tables(user=None) -> None:
    """Start from clean tables: drop the bench user's old rows and vacuum, so one run's dead
    tuples (and the autovacuum they trigger) do not slow the next run's measurements."""
    from django.db import connection

    from billing.models import CostEntry, DailyCost
    from trading.models import Order, Position, SimulatedAccount, Trade

    user = user or bench_user()
    for model in (CostEntry, DailyCost, Trade, Position, Order, SimulatedAccount):
        model.objects.filter(owner=user).delete()
    with connection.cursor() as cursor:
        for table in [
            "pipelines_pipelineexecution",
            "pipelines_steprun",
            "pipelines_report",
            "billing_costentry",
            "billing_dailycost",
        ]:
            cursor.execute(f"VACUUM ANALYZE {table}")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(values_ms: list[float]) -> str:
    return (
        f"p50 {statistics.median(values_ms):.2f} ms, p95 {percentile(values_ms, 95):.2f} ms, "
        f"p99 {percentile(values_ms, 99):.2f} ms, max {max(values_ms):.2f} ms"
    )


ROUNDS = 5


def alternate(count: int, ways: dict, after=None) -> dict[str, list[float]]:
    """Each way `count` times, alternating in ROUNDS rounds (round 0 warms both up), so a busy
    machine slows every way alike; `after(result)` runs untimed after each call."""
    timings = {name: [] for name in ways}
    for round_number in range(ROUNDS + 1):
        for name, call in ways.items():
            for _ in range(max(1, count // ROUNDS)):
                started = time.perf_counter()
                result = call()
                elapsed = (time.perf_counter() - started) * 1000
                if after is not None:
                    after(result)
                if round_number:
                    timings[name].append(elapsed)
    return timings


def print_timings(title: str, timings: dict[str, list[float]]) -> None:
    print(title)
    for name, values in timings.items():
        print(f"  {name:<34} {summary(values)}")
