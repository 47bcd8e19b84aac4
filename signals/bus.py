"""The signal bus: a small interface, and its Redis Streams implementation (ARCHITECTURE §1).

Generators, the webhook and the dispatcher only see `SignalBus`; a Kafka bus would implement
the same methods (publish → produce, read → poll in a consumer group, ack → commit,
reclaim → the rebalance that hands a dead consumer's partitions to a live one, dead_letter →
produce to a dead-letter topic).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from config.core.tracing import span, trace_headers
from signals import conf
from signals.redis import bus_redis

logger = logging.getLogger(__name__)

# W3C trace context fields an entry may carry besides the signal.
TRACE_FIELDS = frozenset({"traceparent", "tracestate"})


@dataclass(frozen=True)
class BusMessage:
    """One entry read from the bus. `signal` is None when the entry could not be decoded."""

    message_id: str
    signal: dict[str, Any] | None
    owner_id: int | None = None  # set on webhook signals: only this user's pipelines may match
    published_at: float | None = None  # wall-clock seconds at publish, for latency
    error: str = ""
    trace_headers: dict[str, str] | None = None  # the publisher's trace (config/core/tracing.py)
    raw: dict[str, str] = field(default_factory=dict)  # the entry's fields, for a dead letter


class SignalBus(Protocol):
    def publish(self, signal: dict[str, Any], *, owner_id: int | None = None) -> str:
        """Append a validated §17.2 signal; returns the message id."""
        ...

    def ensure_group(self) -> None:
        """Create the consumer group if it does not exist (idempotent)."""
        ...

    def read(self, *, consumer: str, count: int = 64, block_ms: int = 1000) -> list[BusMessage]:
        """New messages for this consumer; they stay pending until acked."""
        ...

    def ack(self, message_ids: list[str]) -> None: ...

    def reclaim(self, *, consumer: str, min_idle_ms: int, count: int = 64) -> list[BusMessage]:
        """Take over messages another consumer read but did not ack for `min_idle_ms`."""
        ...

    def failure_count(self, message_id: str) -> int:
        """Count one more failed attempt at this message; returns the attempts so far."""
        ...

    def dead_letter(self, message: BusMessage, *, reason: str, error: str, attempts: int) -> str:
        """Park a message nobody can process, with its error, where operators can see it."""
        ...


def encode(signal: dict[str, Any], *, owner_id: int | None, published_at: float) -> dict:
    return {
        "signal": json.dumps(signal, separators=(",", ":")),
        "owner": "" if owner_id is None else str(owner_id),
        "published_at": repr(published_at),
        **trace_headers(),
    }


def decode(message_id: bytes | str, fields: dict | None) -> BusMessage:
    message_id = message_id.decode() if isinstance(message_id, bytes) else message_id
    if not fields:
        # XAUTOCLAIM on Redis 6.2 returns trimmed-away entries with no fields.
        return BusMessage(message_id, None, error="the entry was trimmed from the stream")
    raw = {
        (k.decode(errors="replace") if isinstance(k, bytes) else k): (
            v.decode(errors="replace") if isinstance(v, bytes) else v
        )
        for k, v in fields.items()
    }
    try:
        fields = {k.decode(): v.decode() for k, v in fields.items()}
        signal = json.loads(fields["signal"])
        if not isinstance(signal, dict):
            raise ValueError("the signal is not a JSON object")
        owner = fields.get("owner") or ""
        published = fields.get("published_at") or ""
        return BusMessage(
            message_id,
            signal,
            owner_id=int(owner) if owner else None,
            published_at=float(published) if published else None,
            trace_headers={k: v for k, v in fields.items() if k in TRACE_FIELDS} or None,
            raw=raw,
        )
    except (KeyError, ValueError, UnicodeDecodeError, RecursionError) as error:
        return BusMessage(message_id, None, error=f"undecodable entry: {error}", raw=raw)


class RedisStreamBus:
    """XADD with approximate MAXLEN trimming; XREADGROUP / XACK / XAUTOCLAIM in one group."""

    def __init__(
        self,
        *,
        client: redis.Redis | None = None,
        stream: str | None = None,
        group: str | None = None,
        maxlen: int | None = None,
    ):
        self.client = client or bus_redis()
        self.stream = stream or conf.stream_name()
        self.group = group or conf.consumer_group()
        self.maxlen = maxlen or conf.stream_maxlen()
        self.dead_stream = f"{self.stream}:dead"
        self.failures_key = f"{self.stream}:failures:{self.group}"
        self._claim_cursor = "0-0"

    def __repr__(self) -> str:
        return f"RedisStreamBus(stream={self.stream!r}, group={self.group!r})"

    def publish(self, signal: dict[str, Any], *, owner_id: int | None = None) -> str:
        # Approximate trimming (~) lets Redis drop whole macro-nodes: O(1) instead of exact.
        with span("signal publish", **{"tradecrew.signal_type": str(signal.get("signal_type"))}):
            message_id = self.client.xadd(
                self.stream,
                encode(signal, owner_id=owner_id, published_at=time.time()),
                maxlen=self.maxlen,
                approximate=True,
            )
        return message_id.decode() if isinstance(message_id, bytes) else message_id

    def ensure_group(self) -> None:
        try:
            # "$" would skip what was published while no dispatcher ran; "0" takes it all.
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read(self, *, consumer: str, count: int = 64, block_ms: int = 1000) -> list[BusMessage]:
        try:
            response = self.client.xreadgroup(
                self.group, consumer, {self.stream: ">"}, count=count, block=block_ms or None
            )
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            # The stream was deleted (FLUSHDB, a new deployment): recreate and carry on.
            self.ensure_group()
            return []
        return [decode(mid, fields) for _, entries in response or [] for mid, fields in entries]

    def ack(self, message_ids: list[str]) -> None:
        if message_ids:
            self.client.xack(self.stream, self.group, *message_ids)

    def reclaim(self, *, consumer: str, min_idle_ms: int, count: int = 64) -> list[BusMessage]:
        # The cursor walks the pending list across calls; "0-0" back means it went round.
        response = self.client.xautoclaim(
            self.stream, self.group, consumer, min_idle_ms, start_id=self._claim_cursor, count=count
        )
        cursor, entries = response[0], response[1]
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else cursor
        messages = [decode(mid, fields) for mid, fields in entries if mid is not None]
        # Redis 7 lists entries trimmed away since they were read separately; ack them.
        deleted = response[2] if len(response) > 2 else []
        if deleted:
            self.ack([d.decode() if isinstance(d, bytes) else d for d in deleted])
        return messages

    def failure_count(self, message_id: str) -> int:
        attempts = self.client.hincrby(self.failures_key, message_id, 1)
        # The hash only holds messages failing right now; a day without failures empties it.
        self.client.expire(self.failures_key, 24 * 3600)
        return int(attempts)

    def dead_letter(self, message: BusMessage, *, reason: str, error: str, attempts: int) -> str:
        """XADD to `<stream>:dead` and XACK in one MULTI, so a message is never both parked
        and still pending (or neither)."""
        entry = {
            **message.raw,
            "message_id": message.message_id,
            "reason": reason,
            "error": error[:2000],
            "attempts": str(attempts),
            "dead_lettered_at": repr(time.time()),
        }
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_stream, entry, maxlen=self.maxlen, approximate=True)
            pipe.xack(self.stream, self.group, message.message_id)
            pipe.hdel(self.failures_key, message.message_id)
            dead_id = pipe.execute()[0]
        return dead_id.decode() if isinstance(dead_id, bytes) else dead_id

    def dead_letters(self, *, count: int = 100) -> list[dict[str, str]]:
        """The newest parked messages, newest first, for operators."""
        entries = self.client.xrevrange(self.dead_stream, count=count)
        return [
            {"dead_letter_id": (mid.decode() if isinstance(mid, bytes) else mid)}
            | {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
            for mid, fields in entries
        ]

    def dead_letter_count(self) -> int:
        return int(self.client.xlen(self.dead_stream))

    def pending_count(self) -> int:
        try:
            return int(self.client.xpending(self.stream, self.group)["pending"])
        except redis.ResponseError:
            return 0

    def forget_idle_consumers(self, *, idle_ms: int) -> int:
        """Remove consumers that own no pending entries and were idle for `idle_ms` (each
        dispatcher restart registers a new name; the group would otherwise grow forever)."""
        removed = 0
        try:
            consumers = self.client.xinfo_consumers(self.stream, self.group)
        except redis.ResponseError:
            return 0
        for info in consumers:
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            if int(info["pending"]) == 0 and int(info["idle"]) >= idle_ms:
                self.client.xgroup_delconsumer(self.stream, self.group, name)
                removed += 1
        return removed
