"""Live events (spec §7.1) pushed to the Channels groups `user.<id>` and `execution.<id>`.

Events are sent after the surrounding transaction commits, so a browser never hears about a row
it cannot read yet, and in the order they were emitted.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

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
}


def user_group(user_id) -> str:
    return f"user.{user_id}"


def execution_group(execution_id) -> str:
    return f"execution.{execution_id}"


class _Publisher:
    """Publishes to the channel layer's groups with a plain Redis client.

    The layer is channels_redis' pub/sub layer, where sending to a group is one PUBLISH of the
    layer-serialised message on the group's channel; doing that synchronously (both groups in one
    pipelined round trip) costs a fraction of a millisecond, where an async_to_sync hop per event
    costs several."""

    def __init__(self):
        self._client = None
        self._prefix = "asgi"

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

    def publish(self, batch: list[tuple[list[str], dict[str, Any]]]) -> None:
        layer = get_channel_layer()
        if layer is None or not batch:
            return
        try:
            client = self._redis()
            with client.pipeline(transaction=False) as pipe:
                for groups, payload in batch:
                    data = layer.serialize({"type": "event.message", "payload": payload})
                    for group in groups:
                        pipe.publish(f"{self._prefix}__group__{group}", data)
                pipe.execute()
        except Exception:
            logger.warning("could not push %d live event(s)", len(batch), exc_info=True)


_publisher = _Publisher()


def flush(timeout: float = 5.0) -> None:
    """Kept for callers that want every emitted event out: publishing is synchronous."""


def _plain(value: Any) -> Any:
    """Make an event field JSON-ready (Decimal, UUID, datetime, nested containers)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


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
    transaction.on_commit(lambda: _publisher.publish(batch))


def event_emit(*, event: str, owner_id, execution_id=None, **fields: Any) -> dict[str, Any]:
    groups, payload = event_build(
        event=event, owner_id=owner_id, execution_id=execution_id, **fields
    )
    events_send([(groups, payload)])
    return payload
