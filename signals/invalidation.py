"""Tell running dispatchers that a pipeline or scanner changed (Redis pub/sub), so their index
is updated at once instead of at the next periodic rebuild."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import redis

from signals import conf
from signals.redis import bus_db, bus_redis

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invalidation:
    kind: str  # "pipeline" | "scanner"
    object_id: str


def channel() -> str:
    # Pub/sub channels are server-wide, not per logical database: name the database, so the
    # test run (REDIS_DB_BASE=8) and a running system on the same Redis never hear each other.
    return f"tradecrew:{bus_db()}:{conf.stream_name()}:invalidate"


def invalidation_publish(*, kind: str, object_id) -> None:
    """Best effort: a dispatcher that misses this catches up at its next rebuild."""
    try:
        bus_redis().publish(channel(), json.dumps({"kind": kind, "id": str(object_id)}))
    except redis.RedisError as error:
        logger.warning("signals: could not announce %s %s change: %s", kind, object_id, error)


def parse(data: bytes | str) -> Invalidation | None:
    try:
        body = json.loads(data)
        kind, object_id = str(body["kind"]), str(body["id"])
    except (ValueError, KeyError, TypeError):
        return None
    return Invalidation(kind, object_id) if kind in {"pipeline", "scanner"} else None


class InvalidationListener:
    """A subscription the dispatcher loop drains between reads (no thread of its own)."""

    def __init__(self, client: redis.Redis | None = None):
        self._pubsub = (client or bus_redis()).pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel())
        # Wait for the confirmation, so a change made right after start-up is not missed.
        self._pubsub.get_message(ignore_subscribe_messages=False, timeout=2.0)

    def drain(self, *, limit: int = 10_000) -> list[Invalidation]:
        found: list[Invalidation] = []
        for _ in range(limit):
            message = self._pubsub.get_message(timeout=0.0)
            if message is None:
                break
            if message.get("type") == "message":
                invalidation = parse(message["data"])
                if invalidation is not None:
                    found.append(invalidation)
        return found

    def close(self) -> None:
        self._pubsub.close()
