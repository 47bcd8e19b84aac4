"""Live events (spec §7.1) pushed to the Channels groups `user.<id>` and `execution.<id>`.

Events are sent after the surrounding transaction commits, so a browser never hears about a row
it cannot read yet, and in the order they were emitted.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from config.core.live_throttle import StateThrottle

logger = logging.getLogger(__name__)

EVENT_TYPES = {
    "execution_started",
    "agent_started",
    "agent_completed",
    "execution_waiting",
    "trade_executed",
    "execution_completed",
    "error",
    "position_updated",
    "notification",
    "backtest_progress",
}


def user_group(user_id) -> str:
    return f"user.{user_id}"


def execution_group(execution_id) -> str:
    return f"execution.{execution_id}"


# Sends a batch of group messages in one command: ARGV is channel, message, channel, message…
_PUBLISH_ALL = """
for i = 1, #ARGV, 2 do
    redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
"""


class _Publisher:
    """Publishes to the channel layer's groups from one background thread per process.

    The layer is channels_redis' pub/sub layer, where sending to a group is one PUBLISH of the
    layer-serialised message on the group's channel. A run hands its events over after commit
    and goes on, so Redis latency never sits on an execution's critical path. The thread
    lingers a moment after the first event of a round (`LINGER_SECONDS`, well inside the
    100 ms the spec allows a live update) so a fast run's events go together, then sends what
    has queued up, in order, as one script call: one wake-up, one command and one reply per
    round instead of a PUBLISH and a reply per group and event, which on a busy worker took
    CPU (and the GIL) from the runs themselves."""

    MAX_BATCHES_PER_ROUND_TRIP = 256
    LINGER_SECONDS = 0.02

    def __init__(self):
        self._client = None
        self._publish_all = None
        self._prefix = "asgi"
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._throttle = StateThrottle(0)  # set from the settings when the thread starts

    def _redis(self):
        if self._client is None:
            import redis

            config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
            host = config["hosts"][0]
            url = host if isinstance(host, str) else host["address"]
            self._prefix = config.get("prefix", "asgi")
            # redis-py pools notice a fork and reconnect in the child.
            self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return self._client

    def _script(self):
        if self._publish_all is None:
            self._publish_all = self._redis().register_script(_PUBLISH_ALL)
        return self._publish_all

    def submit(self, batch: list[tuple[list[str], dict[str, Any]]]) -> None:
        if not batch:
            return
        self._ensure_thread()
        with self._idle:
            self._pending += 1
        self._queue.put(batch)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted event is out (or `timeout` passes); True when done."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self._pending == 0 and not self._throttle.holding, timeout
            )

    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._thread is not None and self._pid == pid and self._thread.is_alive():
            return
        with self._idle:
            if self._thread is not None and self._pid == pid and self._thread.is_alive():
                return
            if self._pid != pid:  # a forked child: the parent's queue and thread are not ours
                self._queue, self._pending = queue.SimpleQueue(), 0
                self._client = self._publish_all = None
            self._pid = pid
            self._throttle = StateThrottle(settings.LIVE_STATE_INTERVAL_MS / 1000)
            self._thread = threading.Thread(target=self._run, name="live-events", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            batches = self._next_round()
            now = time.monotonic()
            try:
                events = self._throttle.admit([event for batch in batches for event in batch], now)
                self.publish(events + self._throttle.due(now))
            finally:
                with self._idle:
                    self._pending -= len(batches)
                    self._idle.notify_all()

    def _next_round(self) -> list:
        """The batches queued now (after lingering), or none when a held state falls due first."""
        due_at = self._throttle.next_due()
        try:
            timeout = None if due_at is None else max(0.0, due_at - time.monotonic())
            batches = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        time.sleep(self.LINGER_SECONDS)
        while len(batches) < self.MAX_BATCHES_PER_ROUND_TRIP:
            try:
                batches.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batches

    def publish(self, events: list[tuple[list[str], dict[str, Any]]]) -> None:
        layer = get_channel_layer()
        if layer is None or not events:
            return
        try:
            publish_all = self._script()
            arguments = []
            for groups, payload in events:
                data = layer.serialize({"type": "event.message", "payload": payload})
                for group in groups:
                    arguments += (f"{self._prefix}__group__{group}", data)
            publish_all(args=arguments)
        except Exception:
            logger.warning("could not push %d live event(s)", len(events), exc_info=True)


_publisher = _Publisher()
atexit.register(_publisher.flush, 2.0)


def flush(timeout: float = 5.0) -> bool:
    """Wait until every event emitted so far is out; True when they all are."""
    return _publisher.flush(timeout)


_ENCODER = DjangoJSONEncoder()


def _plain(value: Any) -> Any:
    """Make an event field JSON-ready (Decimal, UUID, datetime, nested containers)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return _ENCODER.default(value)  # Decimal, UUID, datetime…: the string JSON would carry


def event_build(
    *, event: str, owner_id, execution_id=None, **fields: Any
) -> tuple[list[str], dict[str, Any]]:
    """The groups and payload of one event, ready for `events_send`."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event!r}")
    payload: dict[str, Any] = {"event": event}
    if execution_id is not None:
        payload["execution_id"] = str(execution_id)
    payload.update({key: _plain(value) for key, value in fields.items()})
    payload["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    groups = [user_group(owner_id)]
    if execution_id is not None:
        groups.append(execution_group(execution_id))
    return groups, payload


def events_send(batch: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Send events, in order, once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _publisher.submit(batch))


def event_emit(*, event: str, owner_id, execution_id=None, **fields: Any) -> dict[str, Any]:
    groups, payload = event_build(
        event=event, owner_id=owner_id, execution_id=execution_id, **fields
    )
    events_send([(groups, payload)])
    return payload
