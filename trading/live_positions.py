"""Live `position_updated` events: one per change, or coalesced to one per user while a sweep runs.

Outside a sweep a changed position is announced at once (`{"position": {...}}`). Inside
`position_events_coalesced()` (the position monitor's sweep) every change is collected, the latest
state of a position replacing an earlier one, and each user hears one event at the end listing
their changed positions (`{"positions": [{...}, ...]}`): 10,000 marked positions of 20 users are
20 events, not 10,000. Readers take either shape through `changed_positions(payload)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from config.core.events import event_build, event_emit, events_send

EVENT = "position_updated"

# owner id -> position id -> the position's latest state, while a sweep collects.
_collected: ContextVar[dict[Any, dict[Any, dict]] | None] = ContextVar(
    "position_events_collected", default=None
)


def position_event_send(*, owner_id, position: dict) -> None:
    """Announce one position's new state (or collect it when a sweep coalesces events)."""
    collected = _collected.get()
    if collected is None:
        event_emit(event=EVENT, owner_id=owner_id, position=position)
        return
    collected.setdefault(owner_id, {})[position["id"]] = position


@contextmanager
def position_events_coalesced() -> Iterator[None]:
    """Collect position events inside the block; send one event per user when it ends.

    Nested use joins the outer collection. The events go out after the surrounding transaction
    commits (nothing is sent when the block raises: the changes it announced rolled back)."""
    if _collected.get() is not None:
        yield
        return
    collected: dict[Any, dict[Any, dict]] = {}
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
    batch = [
        event_build(event=EVENT, owner_id=owner_id, positions=list(positions.values()))
        for owner_id, positions in collected.items()
    ]
    events_send(batch)


def changed_positions(payload: dict) -> list[dict]:
    """The positions a `position_updated` event lists, in either shape."""
    if payload.get("positions"):
        return [p for p in payload["positions"] if isinstance(p, dict)]
    position = payload.get("position")
    return [position] if isinstance(position, dict) else []
