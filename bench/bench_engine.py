"""Engine benchmark: a 7-agent rules pipeline on the synthetic feed through the real engine.

Measures, per worker process, executions per second and the time per execution end to end —
creating the execution row, claiming it, every step's StepRun writes, state saves, the cost
ledger, the report, and the live events pushed through Redis — plus peak memory. Part 2 sends
runs through a real Celery worker process to show the broker hop.

Run with `make bench` (or `uv run python bench/bench_engine.py [executions]`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from common import ROOT, bench_user, fresh_tables, peak_rss_mb, setup_django, summary

from trading.indicators import DEFAULT_INDICATORS

# A symbol whose synthetic data carries the whole chain at the bench's clock (a clear bias, a
# strategy above the minimum R:R, an approved size), so every agent does its full work; VALIDATION
# mode plans the bracket order on every run instead of skipping once a position is open.
BENCH_SYMBOLS = ["TSLA"]
TARGET_RATE = 50.0
# The Procfile's worker: the threads pool at its default concurrency (WORKER_CONCURRENCY).
WORKER_THREADS = 8
TARGET_P50_MS = 30.0
SEVEN_AGENTS = {
    "nodes": [
        {
            "id": "trigger",
            "agent_type": "price_trigger",
            "config": {"condition": "above", "level": 0.01},
        },
        {
            "id": "data",
            "agent_type": "market_data_agent",
            "config": {
                "timeframes": ["5m", "1h", "4h", "1d"],
                "indicators": list(DEFAULT_INDICATORS),
            },
        },
        {
            "id": "bias",
            "agent_type": "bias_agent",
            "config": {"confidence_threshold": 0, "min_bias_score": 0},
        },
        {
            "id": "strategy",
            "agent_type": "strategy_agent",
            "config": {"timeframe": "5m", "risk_reward_min": 1.0},
        },
        {"id": "risk", "agent_type": "risk_manager_agent", "config": {"min_risk_reward": 1.0}},
        {"id": "trade", "agent_type": "trade_manager_agent", "config": {}},
        {"id": "report", "agent_type": "reporting_agent", "config": {}},
    ],
}
SEVEN_AGENTS["edges"] = [
    {"from": a["id"], "to": b["id"]}
    for a, b in zip(SEVEN_AGENTS["nodes"], SEVEN_AGENTS["nodes"][1:], strict=False)
]


def in_process(count: int) -> None:
    from pipelines import engine, services
    from pipelines.models import Pipeline
    from trading.clock import ManualClock

    user = bench_user("bench-engine@tradecrew.local")
    Pipeline.objects.filter(owner=user).delete()
    fresh_tables(user)
    pipeline, _ = services.pipeline_create(
        owner=user,
        name="bench 7 agents",
        graph=SEVEN_AGENTS,
        symbols=BENCH_SYMBOLS,
        trading_mode="VALIDATION",
    )
    clock = ManualClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    # Warm-up: caches of market data and indicators, connections, imports.
    for _ in range(5):
        execution = services.execution_start(pipeline=pipeline, enqueue=False)
        engine.execution_run(execution_id=execution.pk, task_id=f"w{execution.pk}", clock=clock)
    durations = []
    completed = 0
    measured = []
    started_all = time.perf_counter()
    for _ in range(count):
        clock.advance(timedelta(seconds=1))
        started = time.perf_counter()
        execution = services.execution_start(pipeline=pipeline, enqueue=False)
        status = engine.execution_run(
            execution_id=execution.pk, task_id=str(execution.pk), clock=clock
        )
        measured.append(execution.pk)
        durations.append((time.perf_counter() - started) * 1000)
        completed += status == "completed"
    elapsed = time.perf_counter() - started_all
    rate = count / elapsed
    print(
        f"engine, one worker process running one execution at a time: {count} executions of "
        "7 agents (+ budget gate)"
    )
    print(f"  completed:            {completed}/{count}")
    from pipelines.models import PipelineExecution

    planned = sum(
        1
        for state in PipelineExecution.objects.filter(pk__in=measured).values_list(
            "state", flat=True
        )
        if state.get("intended_orders")
    )
    print(f"  full chain:           {planned} runs ended with a planned bracket order")
    print(
        f"  throughput:           {rate:.1f} executions/s per worker process "
        f"(target ≥ {TARGET_RATE:.0f})"
    )
    print(f"  time per execution:   {summary(durations)} (target p50 ≤ {TARGET_P50_MS:.0f} ms)")
    print(f"  peak memory (RSS):    {peak_rss_mb():.0f} MB")
    _print_step_times(pipeline)
    Pipeline.objects.filter(owner=user).delete()


def _print_step_times(pipeline) -> None:
    from django.db.models import Avg

    from pipelines.models import StepRun

    rows = (
        StepRun.objects.filter(execution__pipeline=pipeline)
        .values("agent_type")
        .annotate(average=Avg("duration_ms"))
        .order_by("-average")
    )
    print("  agent time inside process(), average per execution:")
    for row in rows:
        print(f"    {row['agent_type']:<24} {row['average']:.2f} ms")


def threaded_throughput(count: int, threads: int) -> None:
    """One worker process running executions on `threads` threads, as a Celery worker with the
    threads pool does (`-P threads -c N`): while one run waits on PostgreSQL or Redis, another
    computes, so a process completes more runs per second than one run's latency allows."""
    import threading

    from django.db import connection

    from pipelines import engine, services
    from pipelines.models import Pipeline
    from trading.clock import ManualClock

    user = bench_user("bench-engine@tradecrew.local")
    Pipeline.objects.filter(owner=user).delete()
    fresh_tables(user)
    pipelines = [
        services.pipeline_create(
            owner=user,
            name=f"bench thread {n}",
            graph=SEVEN_AGENTS,
            symbols=BENCH_SYMBOLS,
            trading_mode="VALIDATION",
        )[0]
        for n in range(threads)
    ]
    clock = ManualClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    per_thread = count // threads
    completed = []

    def work(pipeline):
        done = 0
        for _ in range(per_thread):
            execution = services.execution_start(pipeline=pipeline, enqueue=False)
            status = engine.execution_run(
                execution_id=execution.pk, task_id=str(execution.pk), clock=clock
            )
            done += status == "completed"
        completed.append(done)
        connection.close()

    workers = [threading.Thread(target=work, args=(p,)) for p in pipelines]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    total = per_thread * threads
    print(
        f"engine, one worker process with {threads} threads (the Procfile's worker): "
        f"{total} executions"
    )
    print(f"  completed:            {sum(completed)}/{total}")
    print(
        f"  throughput:           {total / elapsed:.1f} executions/s per worker process "
        f"(target ≥ {TARGET_RATE:.0f})"
    )
    print(f"  peak memory (RSS):    {peak_rss_mb():.0f} MB")
    Pipeline.objects.filter(owner=user).delete()


def through_celery(count: int) -> None:
    """End to end through the broker: start → Redis → a Celery worker process → completed."""
    from config.celery import app as celery_app
    from pipelines import services
    from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution

    user = bench_user("bench-engine@tradecrew.local")
    Pipeline.objects.filter(owner=user).delete()
    pipeline, _ = services.pipeline_create(
        owner=user,
        name="bench via celery",
        graph=SEVEN_AGENTS,
        symbols=BENCH_SYMBOLS,
        trading_mode="VALIDATION",
    )
    celery_app.control.purge()
    log_path = ROOT / "var" / "log" / "bench-celery-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-P",
            "solo",
            "-Q",
            "executions,default",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def one_run() -> float:
        started = time.perf_counter()
        execution = services.execution_start(pipeline=pipeline)
        while True:
            status = PipelineExecution.objects.values_list("status", flat=True).get(pk=execution.pk)
            if status not in {ExecutionStatus.PENDING, ExecutionStatus.RUNNING}:
                return (time.perf_counter() - started) * 1000
            time.sleep(0.0005)

    try:
        # Measured from a warm worker: it answers a ping and has run a few executions.
        deadline = time.monotonic() + 120
        while not celery_app.control.ping(timeout=0.5) and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(3):
            one_run()
        latencies = [one_run() for _ in range(count)]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    print(f"engine, through Redis + one Celery worker process (solo pool): {count} executions")
    print(f"  start → completed:    {summary(latencies)}")
    Pipeline.objects.filter(owner=user).delete()


if __name__ == "__main__":
    setup_django()
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    in_process(runs)
    threaded_throughput(runs * 2, threads=WORKER_THREADS)
    through_celery(max(20, runs // 10))
