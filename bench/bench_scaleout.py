"""Scale-out benchmark: the same workload on 1 and 2 processes, for workers and dispatchers.

Part 1 queues a batch of executions (the 7-agent rules pipeline of bench_engine, VALIDATION
mode, one execution per pipeline) and lets 1, then 2, Celery worker processes (the Procfile's
threads pool) drain the executions queue; part 2 publishes a burst of signals on the Redis stream
and lets 1, then 2, dispatcher processes in one consumer group turn them into executions. Each
prints the throughput, the rise from the second process, and checks that no run was executed
twice (every execution claimed once, every step run once; every signal handled by one
dispatcher and starting one execution).

On a shared 2-core machine the figures move with the neighbours: the load average is printed
beside them. Run with `make bench` or
`uv run python bench/bench_scaleout.py [executions] [signals]`.
"""

from __future__ import annotations

import json
import os
import signal as os_signal
import subprocess
import sys
import time
import uuid

from common import ROOT, bench_user, fresh_tables, setup_django

WORKER_THREADS = 8


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- Part 1: workers ------------------------------------------------------------------------


def _pipelines(user, count: int):
    from bench_engine import BENCH_SYMBOLS, SEVEN_AGENTS

    from pipelines import services
    from pipelines.models import Pipeline

    Pipeline.objects.filter(owner=user).delete()
    fresh_tables(user)
    first, _ = services.pipeline_create(
        owner=user,
        name="scale 0",
        graph=SEVEN_AGENTS,
        symbols=BENCH_SYMBOLS,
        trading_mode="VALIDATION",
    )
    copies = [
        Pipeline(
            owner=user,
            name=f"scale {n}",
            graph=first.graph,
            symbols=first.symbols,
            trading_mode=first.trading_mode,
            mode_config=first.mode_config,
            settings=first.settings,
        )
        for n in range(1, count)
    ]
    return [first, *Pipeline.objects.bulk_create(copies)]


def _workers_start(count: int) -> list[subprocess.Popen]:
    log_dir = ROOT / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = []
    for n in range(count):
        log = (log_dir / f"bench-scaleout-worker-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                [
                    *(sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "threads"),
                    *("-c", str(WORKER_THREADS), "-Q", "executions", "-n", f"scale{n}@%h"),
                    *("--without-mingle", "--without-gossip", "-l", "WARNING"),
                ],
                cwd=ROOT,
                env={**os.environ, "WORKER_METRICS_PORT": "0"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return processes


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(os_signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _drain(pipelines) -> tuple[float, list]:
    """Queue one execution per pipeline and wait until every one has ended; (seconds, ids)."""
    from pipelines import services
    from pipelines.models import ExecutionStatus, PipelineExecution
    from pipelines.tasks import execution_run_task

    executions = [services.execution_start(pipeline=p, enqueue=False) for p in pipelines]
    ids = [e.pk for e in executions]
    started = time.perf_counter()
    for execution_id in ids:
        execution_run_task.delay(str(execution_id))
    ended = {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
    deadline = time.monotonic() + 600
    while PipelineExecution.objects.filter(pk__in=ids, status__in=ended).count() < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not finish the batch in 10 minutes")
        time.sleep(0.05)
    return time.perf_counter() - started, ids


def _executed_once(ids) -> tuple[int, int, int]:
    """(completed runs, runs claimed more than once, steps run more than once)."""
    from django.db.models import Count, Sum

    from pipelines.models import PipelineExecution, StepRun

    runs = PipelineExecution.objects.filter(pk__in=ids)
    completed = runs.filter(status="completed").count()
    claimed_twice = runs.filter(attempts__gt=1).count()
    steps = StepRun.objects.filter(execution_id__in=ids).aggregate(
        rows=Count("pk"), attempts=Sum("attempts")
    )
    return completed, claimed_twice, (steps["attempts"] or 0) - steps["rows"]


def workers(executions: int) -> None:
    from config.celery import app as celery_app

    user = bench_user("bench-scaleout@tradecrew.local")
    pipelines = _pipelines(user, executions)
    rates = {}
    for processes in (1, 2):
        with celery_app.connection_for_write() as broker:
            broker.default_channel.queue_purge("executions")
        workers_ = _workers_start(processes)
        try:
            deadline = time.monotonic() + 180
            while len(celery_app.control.ping(timeout=1.0)) < processes:
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not answer a ping in 3 minutes")
            _drain(pipelines[: WORKER_THREADS * processes * 2])  # warm-up
            seconds, ids = _drain(pipelines)
        finally:
            _stop(workers_)
        completed, claimed_twice, steps_twice = _executed_once(ids)
        rates[processes] = len(ids) / seconds
        print(
            f"workers: {processes} Celery worker process{'es' if processes > 1 else ''} "
            f"(threads pool, {WORKER_THREADS} threads each), {len(ids)} queued executions of "
            "7 agents"
        )
        print(
            f"  throughput:           {rates[processes]:.1f} executions/s "
            f"({seconds:.1f} s for the batch); {load()}"
        )
        print(
            f"  executed once:        {completed}/{len(ids)} completed, {claimed_twice} claimed "
            f"twice, {steps_twice} steps run twice"
        )
    print(f"  second worker process: ×{rates[2] / rates[1]:.2f} throughput")
    from pipelines.models import Pipeline

    Pipeline.objects.filter(owner=user).delete()


# --- Part 2: dispatchers --------------------------------------------------------------------


def dispatchers(signal_count: int) -> None:
    import bench_signals
    from bench_signals import GROUP, READY_KEY, RESULTS_KEY, STREAM
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from config.celery import app as celery_app
    from pipelines.blueprints import pipeline_create_from_blueprint
    from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution
    from signals.bus import RedisStreamBus
    from signals.models import Scanner, SignalEvent
    from signals.schemas import SignalMessage

    user = bench_user("bench-scaleout-signals@tradecrew.local")
    Pipeline.objects.filter(owner=user).delete()
    Scanner.objects.filter(owner=user).delete()
    # One pipeline per ticker and one ticker per signal: every signal starts exactly one run.
    tickers = [f"S{n:04d}" for n in range(signal_count)]
    template, _ = pipeline_create_from_blueprint(owner=user, key="day_trading_5m", name="scale")
    scanners = Scanner.objects.bulk_create(
        [Scanner(owner=user, name=f"scale {t}", tickers=[t]) for t in tickers]
    )
    Pipeline.objects.bulk_create(
        [
            Pipeline(
                owner=user,
                name=f"scale {ticker}",
                graph=template.graph,
                symbols=[ticker],
                run_mode="run_on_signal",
                status="active",
                scanner=scanner,
                signal_subscriptions=[{"signal_type": "golden_cross", "min_confidence": 50}],
            )
            for ticker, scanner in zip(tickers, scanners, strict=True)
        ]
    )
    template.delete()
    bus = RedisStreamBus(stream=STREAM, group=GROUP)
    client = bus.client
    rates = {}
    for processes in (1, 2):
        PipelineExecution.objects.filter(owner=user).delete()
        SignalEvent.objects.filter(signal_id__startswith="scale_").delete()
        client.delete(bus.stream, RESULTS_KEY, READY_KEY)
        bus.ensure_group()
        children = [
            subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                [sys.executable, bench_signals.__file__, "--dispatcher", f"scale-{n}"],
                env=os.environ.copy(),
            )
            for n in range(processes)
        ]
        try:
            deadline = time.monotonic() + 180
            while client.llen(READY_KEY) < processes:
                if time.monotonic() > deadline:
                    raise RuntimeError("the dispatchers did not start in 3 minutes")
                time.sleep(0.1)
            messages = [
                SignalMessage(
                    timestamp=int(time.time()),
                    source="bench",
                    signal_id=f"scale_{processes}_{n}_{uuid.uuid4().hex[:8]}",
                    signal_type="golden_cross",
                    tickers=[{"ticker": ticker, "signal": "BULLISH", "confidence": 90}],
                ).as_dict()
                for n, ticker in enumerate(tickers)
            ]
            started = time.perf_counter()
            for message in messages:
                bus.publish(message)
            deadline = time.monotonic() + 600
            while client.llen(RESULTS_KEY) < signal_count:
                if time.monotonic() > deadline:
                    raise RuntimeError("the dispatchers did not finish in 10 minutes")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            _stop(children)
        results = [json.loads(raw) for raw in client.lrange(RESULTS_KEY, 0, -1)]
        handled_twice = len(results) - len({r["signal_id"] for r in results})
        runs = PipelineExecution.objects.filter(owner=user)
        pipelines_twice = (
            runs.values("pipeline_id").order_by().annotate(n=Count("pk")).filter(n__gt=1).count()
        )
        rates[processes] = signal_count / seconds
        print(
            f"dispatchers: {processes} dispatcher process{'es' if processes > 1 else ''} in one "
            f"consumer group, a burst of {signal_count} signals, each matching one pipeline"
        )
        print(
            f"  throughput:           {rates[processes]:.0f} signals/s → executions committed "
            f"and enqueued ({seconds:.2f} s); {load()}"
        )
        print(
            f"  executed once:        {runs.count()} executions for {signal_count} signals, "
            f"{handled_twice} signals handled twice, {pipelines_twice} pipelines started twice"
        )
        runs.update(status=ExecutionStatus.COMPLETED, finished_at=timezone.now())
        with celery_app.connection_for_write() as broker:
            broker.default_channel.queue_purge("executions")
    print(f"  second dispatcher:    ×{rates[2] / rates[1]:.2f} throughput")
    Pipeline.objects.filter(owner=user).delete()
    Scanner.objects.filter(owner=user).delete()
    SignalEvent.objects.filter(signal_id__startswith="scale_").delete()
    client.delete(bus.stream, RESULTS_KEY, READY_KEY)
    connection.close()


if __name__ == "__main__":
    setup_django()
    print(load())
    workers(int(sys.argv[1]) if len(sys.argv) > 1 else 160)
    dispatchers(int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
