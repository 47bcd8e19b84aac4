"""The trigger dispatcher (§17.4): reads signals from the bus in a consumer group, matches them
against the in-memory index, starts the matched pipelines, then acks.

Several dispatchers share one consumer group, so each message goes to one of them; a message
read by a dispatcher that died before acking is reclaimed by a live one (XAUTOCLAIM) after it
has been idle for SIGNAL_RECLAIM_IDLE_SECONDS. Exactly-once starts rest on two guards: a
Redis SET NX per signal id for SIGNAL_DEDUP_TTL_SECONDS (a signal published twice is dropped
before touching PostgreSQL), and the signal log's unique key, committed together with the
executions (a redelivered message, or a repeat after the Redis key expired, starts nothing new
for as long as the log keeps the signal).

One message never holds up the others: a malformed one is dead-lettered at once; one whose
handling raises stays pending while the rest of the batch goes on, is retried by the reclaim,
and after SIGNAL_MAX_DELIVERIES failed attempts is moved to the dead-letter stream with its
error and acknowledged. An outage (Redis or PostgreSQL unreachable) is not the message's fault:
it is raised to the loop, which backs off, and counts no attempt.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import redis
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
)
from pydantic import ValidationError as PydanticValidationError

from config.core import tracing
from signals import conf, metrics, selectors, services
from signals.bus import BusMessage, RedisStreamBus, SignalBus
from signals.index import SignalIndex
from signals.invalidation import Invalidation, InvalidationListener
from signals.redis import bus_redis
from signals.schemas import SignalMessage

logger = logging.getLogger(__name__)

CONSUMER_FORGET_AFTER_MS = 24 * 3600 * 1000
DB_HYGIENE_SECONDS = 30.0
# Errors of the infrastructure rather than of one message: retried by the loop, never counted
# against the message.
OUTAGES = (redis.ConnectionError, redis.TimeoutError, OperationalError, InterfaceError)


@dataclass
class DispatchResult:
    message_id: str
    status: str  # processed | duplicate | replayed | malformed | failed | dead_lettered
    signal_id: str = ""
    matched: int = 0
    started: list[uuid.UUID] = field(default_factory=list)
    latency_seconds: float | None = None  # publish → committed and enqueued
    error: str = ""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def index_build() -> SignalIndex:
    return SignalIndex.build(selectors.signal_pipeline_rows())


def _index_build_in_thread() -> SignalIndex:
    try:
        return index_build()
    finally:
        connections.close_all()  # this worker thread's connections only


class Dispatcher:
    def __init__(
        self,
        *,
        bus: SignalBus | None = None,
        consumer: str | None = None,
        redis_client: redis.Redis | None = None,
        listen_for_changes: bool = True,
        batch_size: int = 64,
        block_ms: int = 1000,
        refresh_seconds: float | None = None,
        reclaim_idle_ms: int | None = None,
        reclaim_interval_seconds: float | None = None,
        dedup_ttl_seconds: int | None = None,
        max_deliveries: int | None = None,
        on_processed: Callable[[BusMessage, DispatchResult], None] | None = None,
    ):
        self.bus = bus or RedisStreamBus()
        self.consumer = consumer or default_consumer_name()
        self.redis = redis_client or bus_redis()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.refresh_seconds = refresh_seconds or conf.index_refresh_seconds()
        self.reclaim_idle_ms = (
            reclaim_idle_ms if reclaim_idle_ms is not None else conf.reclaim_idle_seconds() * 1000
        )
        self.reclaim_interval = reclaim_interval_seconds or conf.reclaim_interval_seconds()
        self.dedup_ttl = dedup_ttl_seconds or conf.dedup_ttl_seconds()
        self.max_deliveries = max_deliveries or conf.max_deliveries()
        self.on_processed = on_processed
        self.dedup_prefix = f"{getattr(self.bus, 'stream', conf.stream_name())}:seen:"
        self.index = SignalIndex()
        self._listener = InvalidationListener(self.redis) if listen_for_changes else None
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signal-index")
        self._building: Future | None = None
        self._changes_during_build: list[Invalidation] = []
        now = time.monotonic()
        self._next_refresh = now + self.refresh_seconds
        self._next_reclaim = now  # first loop: take over what a dead predecessor left
        self._next_forget = now
        self._next_hygiene = now + DB_HYGIENE_SECONDS

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.bus.ensure_group()
        self.rebuild_index()

    def close(self) -> None:
        self._builder.shutdown(wait=False, cancel_futures=True)
        if self._listener is not None:
            self._listener.close()

    def run_forever(self, stop: threading.Event) -> None:
        """Until `stop` is set; a lost database or Redis connection is retried with backoff."""
        backoff = 0.5
        started = False
        try:
            while not stop.is_set():
                try:
                    if not started:
                        self.start()
                        started = True
                        logger.info("%s: %d pipelines indexed", self.consumer, len(self.index))
                    self.run_once()
                    backoff = 0.5
                except (redis.ConnectionError, redis.TimeoutError, DatabaseError) as error:
                    logger.warning("dispatcher: %s; retrying in %.1fs", error, backoff)
                    close_old_connections()
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                except Exception:
                    # A message that broke handling stays pending and is retried by a reclaim.
                    logger.exception("dispatcher: unexpected error; retrying in %.1fs", backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            self.close()

    def run_once(self, block_ms: int | None = None) -> list[DispatchResult]:
        """One turn of the loop: index upkeep, reclaim when due, then read and process a batch."""
        now = time.monotonic()
        self.apply_changes()
        self._refresh_if_due(now)
        if now >= self._next_hygiene:
            close_old_connections()
            self._next_hygiene = now + DB_HYGIENE_SECONDS
        results: list[DispatchResult] = []
        if now >= self._next_reclaim:
            results += self.reclaim()
            self._next_reclaim = now + self.reclaim_interval
        if now >= self._next_forget and hasattr(self.bus, "forget_idle_consumers"):
            self.bus.forget_idle_consumers(idle_ms=CONSUMER_FORGET_AFTER_MS)
            self._next_forget = now + 3600
        messages = self.bus.read(
            consumer=self.consumer,
            count=self.batch_size,
            block_ms=self.block_ms if block_ms is None else block_ms,
        )
        # A pipeline or scanner may have changed while we were blocked in the read: apply it
        # before matching, and in a quiet turn too, so the index never lags a turn behind.
        self.apply_changes()
        for message in messages:
            results.append(self.process(message))
        return results

    def reclaim(self, *, min_idle_ms: int | None = None) -> list[DispatchResult]:
        """Process messages other consumers read and never acked (they died, or hung)."""
        idle = self.reclaim_idle_ms if min_idle_ms is None else min_idle_ms
        results: list[DispatchResult] = []
        while True:
            messages = self.bus.reclaim(
                consumer=self.consumer, min_idle_ms=idle, count=self.batch_size
            )
            for message in messages:
                logger.info("dispatcher %s: reclaimed %s", self.consumer, message.message_id)
                results.append(self.process(message))
            if len(messages) < self.batch_size:
                return results

    # -- one message ----------------------------------------------------------------------------

    def process(self, message: BusMessage) -> DispatchResult:
        """Handle a message and ack it; a malformed one is dead-lettered. If handling raises, it
        stays pending for a reclaim, until its last allowed attempt dead-letters it."""
        try:
            with tracing.span_continuing("signal dispatch", message.trace_headers):
                result = self.handle(message)
        except OUTAGES:
            raise
        except Exception as error:
            result = self._failed(message, error)
        else:
            if result.status == "malformed":
                self._dead_letter(message, reason="malformed", error=result.error, attempts=1)
            else:
                self.bus.ack([message.message_id])
        metrics.signals_dispatched.labels(result=result.status).inc()
        if result.latency_seconds is not None:
            metrics.signal_dispatch_latency.observe(result.latency_seconds)
        if self.on_processed is not None:
            self.on_processed(message, result)
        return result

    def _failed(self, message: BusMessage, error: Exception) -> DispatchResult:
        detail = f"{type(error).__name__}: {error}"
        close_old_connections()  # a broken statement may have left the connection unusable
        attempts = self.bus.failure_count(message.message_id)
        if attempts >= self.max_deliveries:
            logger.error(
                "dispatcher: %s failed %d times, dead-lettered: %s",
                message.message_id,
                attempts,
                detail,
            )
            self._dead_letter(message, reason="failed", error=detail, attempts=attempts)
            return DispatchResult(message.message_id, "dead_lettered", error=detail)
        logger.warning(
            "dispatcher: %s failed (attempt %d of %d), left for a retry: %s",
            message.message_id,
            attempts,
            self.max_deliveries,
            detail,
            exc_info=True,
        )
        return DispatchResult(message.message_id, "failed", error=detail)

    def _dead_letter(self, message: BusMessage, *, reason: str, error: str, attempts: int) -> None:
        self.bus.dead_letter(message, reason=reason, error=error, attempts=attempts)
        metrics.signals_dead_lettered.labels(reason=reason).inc()
        if hasattr(self.bus, "dead_letter_count"):
            metrics.dead_letter_size.set(self.bus.dead_letter_count())

    def handle(self, message: BusMessage) -> DispatchResult:
        """Everything but the ack: dedup, match, start and record."""
        if message.signal is None:
            logger.warning("dispatcher: dropping %s: %s", message.message_id, message.error)
            return DispatchResult(message.message_id, "malformed", error=message.error)
        try:
            signal = SignalMessage.model_validate(message.signal).as_dict()
        except PydanticValidationError as error:
            logger.warning("dispatcher: dropping invalid signal %s: %s", message.message_id, error)
            return DispatchResult(message.message_id, "malformed", error=str(error))
        signal_id = signal["signal_id"]
        if not self._first_delivery(signal_id, message):
            return DispatchResult(message.message_id, "duplicate", signal_id=signal_id)
        started_match = time.perf_counter()
        candidates = self.index.match(
            signal["signal_type"],
            [(entry["ticker"], entry["confidence"]) for entry in signal["tickers"]],
            message.owner_id,
        )
        metrics.signal_match_latency.observe(time.perf_counter() - started_match)
        metrics.pipelines_matched.inc(len(candidates))
        record = services.signal_dispatch_record(
            signal=signal,
            owner_id=message.owner_id,
            message_id=message.message_id,
            candidates=candidates,
        )
        metrics.signal_executions_started.inc(len(record.started))
        latency = time.time() - message.published_at if message.published_at is not None else None
        return DispatchResult(
            message.message_id,
            "replayed" if record.replayed else "processed",
            signal_id=signal_id,
            matched=record.matched,
            started=record.started,
            latency_seconds=latency,
        )

    def _first_delivery(self, signal_id: str, message: BusMessage) -> bool:
        """False when another bus message already carried this signal id (published twice).
        The key holds the message id, so a redelivery of the same message goes on."""
        key = self.dedup_prefix + services.dedup_key(signal_id=signal_id, owner_id=message.owner_id)
        if self.redis.set(key, message.message_id, nx=True, ex=self.dedup_ttl):
            return True
        holder = self.redis.get(key)
        return holder is not None and holder.decode() == message.message_id

    # -- the index ------------------------------------------------------------------------------

    def rebuild_index(self) -> None:
        self.index = index_build()
        metrics.pipeline_cache_size.set(len(self.index))

    def apply_changes(self) -> int:
        if self._listener is None:
            return 0
        changes = self._listener.drain()
        if changes:
            self._apply(self.index, changes)
            if self._building is not None:
                self._changes_during_build += changes  # replayed on the index being built
            metrics.pipeline_cache_size.set(len(self.index))
        return len(changes)

    @staticmethod
    def _apply(index: SignalIndex, changes: list[Invalidation]) -> None:
        pipeline_ids: set[str] = set()
        scanner_ids: set[int] = set()
        for change in changes:
            if change.kind == "pipeline":
                try:
                    pipeline_ids.add(str(uuid.UUID(change.object_id)))
                except ValueError:
                    continue
            elif change.object_id.isdigit():
                scanner_ids.add(int(change.object_id))
                # A deleted scanner's pipelines no longer point at it in the database.
                pipeline_ids.update(index.pipelines_for_scanner(int(change.object_id)))
        rows, looked_at = selectors.signal_pipeline_rows_for(
            pipeline_ids=pipeline_ids, scanner_ids=scanner_ids
        )
        for pipeline_id in looked_at:
            row = rows.get(pipeline_id)
            if row is None:
                index.remove(pipeline_id)
            else:
                index.upsert(row)

    def _refresh_if_due(self, now: float) -> None:
        """The periodic full rebuild runs on a worker thread, so reading and matching go on;
        changes heard meanwhile are applied to both indexes, then the new one is swapped in."""
        if self._building is None and now >= self._next_refresh:
            self._changes_during_build = []
            self._building = self._builder.submit(_index_build_in_thread)
            return
        if self._building is not None and self._building.done():
            future, self._building = self._building, None
            self._next_refresh = now + self.refresh_seconds
            try:
                fresh = future.result()
            except Exception:
                logger.exception("dispatcher: index rebuild failed; keeping the current index")
                return
            if self._changes_during_build:
                self._apply(fresh, self._changes_during_build)
            self._changes_during_build = []
            self.index = fresh
            metrics.pipeline_cache_size.set(len(self.index))


def dispatcher_run(*, stop: threading.Event, consumer: str | None = None) -> None:
    """The `dispatcher` process: metrics on their port, then the loop until `stop`."""
    metrics.metrics_serve(port=conf.dispatcher_metrics_port(), addr=conf.metrics_addr())
    tracing.tracing_configure(service="dispatcher")
    Dispatcher(consumer=consumer).run_forever(stop)
