"""Signal dispatcher benchmark: matching in the index, and signal → execution through Redis.

Part 1 builds the dispatcher's index from 100,000 synthetic signal-driven pipelines over 5,000
tickers (in memory: the index does not care where rows come from) and measures, on one core,
signals matched per second and the time to match one signal.

Part 2 is end to end on the real services: a few hundred active pipelines in PostgreSQL,
dispatcher processes sharing one consumer group on the Redis stream, and signals published at
100 per second. Each signal's latency runs from XADD to its executions committed and their
Celery messages in the broker (nobody consumes them; a helper marks runs finished so pipelines
can start again).

Run with `make bench` (or `uv run python bench/bench_signals.py [signals]`).
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import threading
import time
import uuid

from common import bench_user, peak_rss_mb, percentile, setup_django, summary

TARGET_MATCH_RATE = 200_000.0
TARGET_P99_MS = 10.0
PIPELINES = 100_000
TICKERS = 5_000
SIGNAL_TYPES = [
    "golden_cross",
    "death_cross",
    "rsi_oversold",
    "rsi_overbought",
    "volume_spike",
    "news_sentiment",
    "macd_crossover",
    "bollinger_breakout",
    "breakout_20d",
    "webhook",
    "tradingview",
    "mock",
]
THRESHOLDS = [0, 50, 60, 65, 70, 75, 80, 85, 90, 95]


def _synthetic_rows(rng: random.Random):
    from signals.index import PipelineRow

    tickers = [f"S{n:04d}" for n in range(TICKERS)]
    for n in range(PIPELINES):
        yield PipelineRow(
            pipeline_id=str(uuid.UUID(int=rng.getrandbits(128))),
            owner_id=1 + n // 5,
            scanner_id=n // 2,
            tickers=tuple(rng.sample(tickers, rng.randint(1, 10))),
            subscriptions=tuple(
                (signal_type, float(rng.choice(THRESHOLDS)))
                for signal_type in rng.sample(SIGNAL_TYPES, rng.randint(1, 3))
            ),
        )


def _synthetic_signals(rng: random.Random, count: int) -> list[tuple[str, list[tuple[str, float]]]]:
    signals = []
    for _ in range(count):
        size = 1 if rng.random() < 0.9 else rng.randint(2, 3)
        signals.append(
            (
                rng.choice(SIGNAL_TYPES),
                [
                    (f"S{rng.randrange(TICKERS):04d}", round(rng.uniform(0, 100), 1))
                    for _ in range(size)
                ],
            )
        )
    return signals


def _index_size_mb(index) -> float:
    """Bytes of the index's own containers (the row objects and id strings are shared)."""
    size = sys.getsizeof(index._buckets) + sys.getsizeof(index._rows)
    size += sum(sys.getsizeof(members) for members in index._by_scanner.values())
    size += sys.getsizeof(index._by_scanner)
    for by_ticker in index._buckets.values():
        size += sys.getsizeof(by_ticker)
        for bucket in by_ticker.values():
            size += sys.getsizeof(bucket) + sys.getsizeof(bucket[0]) + sys.getsizeof(bucket[1])
    return size / 1e6


def index_throughput(signal_count: int = 500_000) -> None:
    from signals.index import SignalIndex

    rng = random.Random(42)
    rows = list(_synthetic_rows(rng))
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    index = SignalIndex.build(rows)
    build_seconds = time.perf_counter() - started
    build_peak_mb = peak_rss_mb() - rss_before
    index_mb = _index_size_mb(index)
    signals = _synthetic_signals(rng, signal_count)
    match = index.match

    for signal_type, tickers in signals[:20_000]:  # warm-up
        match(signal_type, tickers)
    gc.disable()  # measure matching, not the collector walking 100k rows
    try:
        rates = []
        matched_total = 0
        for _ in range(3):
            matched_total = 0
            started = time.perf_counter()
            for signal_type, tickers in signals:
                matched_total += len(match(signal_type, tickers))
            rates.append(len(signals) / (time.perf_counter() - started))
        clock = time.perf_counter_ns
        latencies_ms = []
        for signal_type, tickers in signals[:200_000]:
            before = clock()
            match(signal_type, tickers)
            latencies_ms.append((clock() - before) / 1e6)
    finally:
        gc.enable()
    rate = statistics.median(rates)
    print(
        f"dispatcher index: {len(index):,} active pipelines over {TICKERS:,} tickers, "
        f"{index.entry_count:,} (pipeline, ticker, type) entries"
    )
    print(
        f"  build:                {build_seconds:.2f} s; the index holds {index_mb:.0f} MB on top "
        f"of the rows (peak RSS grew {build_peak_mb:.0f} MB while building)"
    )
    print(f"  pipelines per signal: {matched_total / len(signals):.2f} matched on average")
    print(
        f"  throughput:           {rate:,.0f} signals/s matched on one core "
        f"(target ≥ {TARGET_MATCH_RATE:,.0f})"
    )
    print(
        f"  match latency:        p50 {statistics.median(latencies_ms) * 1000:.1f} µs, "
        f"p99 {percentile(latencies_ms, 99) * 1000:.1f} µs, max {max(latencies_ms):.3f} ms"
    )


STREAM, GROUP = "bench-signals", "bench-dispatchers"
RESULTS_KEY, READY_KEY = "bench-signals:results", "bench-signals:ready"


def dispatcher_process(consumer: str) -> None:
    """`bench_signals.py --dispatcher NAME`: one dispatcher process, as the Procfile runs them,
    reporting each signal's timings to a Redis list the benchmark reads."""
    import json
    import signal as os_signal

    from signals.bus import RedisStreamBus
    from signals.dispatcher import Dispatcher

    bus = RedisStreamBus(stream=STREAM, group=GROUP)
    handled_ms: dict[str, float] = {}

    class TimedDispatcher(Dispatcher):
        def handle(self, message):
            began = time.perf_counter()
            result = super().handle(message)
            handled_ms[message.message_id] = (time.perf_counter() - began) * 1000
            return result

    def on_processed(message, result):
        bus.client.rpush(
            RESULTS_KEY,
            json.dumps(
                {
                    "signal_id": message.signal["signal_id"],
                    "latency_ms": result.latency_seconds * 1000,
                    "handled_ms": handled_ms.pop(message.message_id),
                    "started": len(result.started),
                }
            ),
        )

    stop = threading.Event()
    os_signal.signal(os_signal.SIGTERM, lambda *_: stop.set())
    dispatcher = TimedDispatcher(bus=bus, consumer=consumer, block_ms=50, on_processed=on_processed)
    dispatcher.start()
    bus.client.rpush(READY_KEY, consumer)
    while not stop.is_set():
        dispatcher.run_once()
    dispatcher.close()


def end_to_end(
    signal_count: int = 1000,
    rate: float = 100.0,
    scanners: int = 400,
    per_ticker: int = 1,
    dispatchers: int = 2,
) -> None:
    import json
    import os
    import signal as os_signal
    import subprocess

    from django.db import connection
    from django.utils import timezone

    from config.celery import app as celery_app
    from pipelines.blueprints import pipeline_create_from_blueprint
    from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution
    from signals.bus import RedisStreamBus
    from signals.models import Scanner, SignalEvent
    from signals.schemas import SignalMessage

    # A bench user of its own: other benchmarks clean up after theirs while this one runs.
    user = bench_user("bench-signals@tradecrew.local")
    Pipeline.objects.filter(owner=user).delete()
    Scanner.objects.filter(owner=user).delete()
    SignalEvent.objects.filter(signal_id__startswith="bench_").delete()
    tickers = [f"B{n:03d}" for n in range(scanners)]
    template, _ = pipeline_create_from_blueprint(owner=user, key="day_trading_5m", name="bench")
    pipelines = []
    for ticker in tickers:
        scanner = Scanner.objects.create(owner=user, name=f"bench {ticker}", tickers=[ticker])
        for copy in range(per_ticker):
            pipelines.append(
                Pipeline(
                    owner=user,
                    name=f"bench {ticker} {copy}",
                    graph=template.graph,
                    symbols=[ticker],
                    run_mode="run_on_signal",
                    status="active",
                    scanner=scanner,
                    signal_subscriptions=[{"signal_type": "golden_cross", "min_confidence": 50}],
                )
            )
    Pipeline.objects.bulk_create(pipelines)
    template.delete()
    with connection.cursor() as cursor:
        for table in ("pipelines_pipelineexecution", "signals_signalevent", "signals_signalmatch"):
            cursor.execute(f"VACUUM ANALYZE {table}")

    bus = RedisStreamBus(stream=STREAM, group=GROUP)
    client = bus.client
    client.delete(bus.stream, RESULTS_KEY, READY_KEY)
    for key in client.scan_iter(f"{bus.stream}:seen:*", count=1000):
        client.delete(key)
    bus.ensure_group()
    with celery_app.connection_for_write() as broker:
        broker.default_channel.queue_purge("executions")

    stop = threading.Event()

    def finish_runs():
        # Stand-in for the workers: runs end, so each pipeline may start again.
        while not stop.is_set():
            PipelineExecution.objects.filter(owner=user, status=ExecutionStatus.PENDING).update(
                status=ExecutionStatus.COMPLETED, finished_at=timezone.now()
            )
            stop.wait(0.25)
        connection.close()

    def signal(n: int, prefix: str) -> dict:
        return SignalMessage(
            timestamp=int(time.time()),
            source="bench",
            signal_id=f"bench_{prefix}{n}_{uuid.uuid4().hex[:8]}",
            signal_type="golden_cross",
            tickers=[{"ticker": tickers[n % len(tickers)], "signal": "BULLISH", "confidence": 90}],
        ).as_dict()

    def wait_results(count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while client.llen(RESULTS_KEY) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    processes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--dispatcher", f"bench-{n}"], env=os.environ.copy()
        )
        for n in range(dispatchers)
    ]
    completer = threading.Thread(target=finish_runs)
    completer.start()
    try:
        deadline = time.monotonic() + 120
        while client.llen(READY_KEY) < dispatchers and time.monotonic() < deadline:
            time.sleep(0.1)
        # Warm-up: connections to PostgreSQL, Redis and the broker, first-call costs.
        for n in range(50):
            bus.publish(signal(n, "w"))
            time.sleep(0.01)
        wait_results(50, 60)
        time.sleep(0.5)
        client.delete(RESULTS_KEY)
        interval = 1.0 / rate
        begin = time.perf_counter()
        for n in range(signal_count):
            delay = begin + n * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            bus.publish(signal(n, "m"))
        finished = wait_results(signal_count, 60)
        elapsed = time.perf_counter() - begin
    finally:
        for process in processes:
            process.send_signal(os_signal.SIGTERM)
        for process in processes:
            process.wait(30)
        stop.set()
        completer.join(30)
    results = [json.loads(raw) for raw in client.lrange(RESULTS_KEY, 0, -1)]
    latencies = [r["latency_ms"] for r in results]
    handled = [r["handled_ms"] for r in results]
    with celery_app.connection_for_write() as broker:
        queued = broker.default_channel.client.llen("executions")
        broker.default_channel.queue_purge("executions")
    print(
        f"dispatcher end to end: {signal_count} signals at {rate:.0f}/s through Redis Streams, "
        f"{len(pipelines)} active pipelines in PostgreSQL, {per_ticker} matching each signal, "
        f"{dispatchers} dispatcher process{'es' if dispatchers > 1 else ''} in one consumer group"
    )
    print(
        f"  processed:            {len(results)}/{signal_count}"
        f"{'' if finished else ' (timed out)'} in {elapsed:.1f} s; "
        f"{sum(r['started'] for r in results)} executions started, "
        f"{queued} Celery messages in the broker"
    )
    print(
        f"  XADD → committed + enqueued: {summary(latencies)} (target p99 ≤ {TARGET_P99_MS:.0f} ms)"
    )
    print(f"  of which handling:    {summary(handled)} (inside the dispatcher, without queueing)")
    Pipeline.objects.filter(owner=user).delete()
    Scanner.objects.filter(owner=user).delete()
    SignalEvent.objects.filter(signal_id__startswith="bench_").delete()
    client.delete(bus.stream, RESULTS_KEY, READY_KEY)


if __name__ == "__main__":
    setup_django()
    if sys.argv[1:2] == ["--dispatcher"]:
        dispatcher_process(sys.argv[2])
        sys.exit(0)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    index_throughput()
    end_to_end(signal_count=count)
