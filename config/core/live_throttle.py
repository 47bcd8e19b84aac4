"""How often one object's live state goes out: a position's state (or a backtest's progress) at
most once per `LIVE_STATE_INTERVAL_MS` per group — the first at once, the latest always, the ones
in between merged away before they reach Redis and every web process.

A position's P&L moves on every tick; a reader needs its latest value, not each of them. Without
this a burst of ticks costs every web process holding the trader's sockets one message per tick
and socket (a web process reads ~2,000 a second from Redis on this 2-core VM): the queue grows and
everyone falls behind. Events that are not states (a trade, a notification, a step) pass at once.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

Event = tuple[list[str], dict[str, Any]]


def state_key(payload: dict[str, Any]) -> Hashable | None:
    """The object whose state this event carries (a later one of the same key supersedes it);
    None for events that are not states."""
    event = payload.get("event")
    if event == "position_updated":
        position_id = (payload.get("position") or {}).get("id")
        if position_id is not None:
            return (event, str(position_id))
    elif event == "backtest_progress" and payload.get("backtest_id"):
        return (event, str(payload["backtest_id"]))
    return None


class StateThrottle:
    """Holds back a state that follows its predecessor within `interval` seconds; a newer one
    replaces it while it waits, and `due` releases it when its interval has passed."""

    def __init__(self, interval: float):
        self.interval = interval
        self._sent_at: dict[Hashable, float] = {}
        self._held: dict[Hashable, Event] = {}
        self._due_at: dict[Hashable, float] = {}

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def next_due(self) -> float | None:
        return min(self._due_at.values(), default=None)

    def admit(self, events: list[Event], now: float) -> list[Event]:
        """The events to send now, in order; the states held back wait for `due`."""
        if self.interval <= 0:
            return events
        out = []
        for groups, payload in events:
            state = state_key(payload)
            if state is None:
                self._supersede_listed(groups, payload, now)
                out.append((groups, payload))
                continue
            key = (tuple(groups), state)
            if key in self._held:
                self._held[key] = (groups, payload)
                continue
            sent_at = self._sent_at.get(key)
            if sent_at is None or now - sent_at >= self.interval:
                self._sent_at[key] = now
                out.append((groups, payload))
            else:
                self._held[key] = (groups, payload)
                self._due_at[key] = sent_at + self.interval
        return out

    def _supersede_listed(self, groups: list[str], payload: dict[str, Any], now: float) -> None:
        """A sweep's one event per user lists many positions' states at once: a state of one of
        them still held back is older, and must not arrive after it."""
        if payload.get("event") != "position_updated":
            return
        for position in payload.get("positions") or ():
            if not isinstance(position, dict) or position.get("id") is None:
                continue
            key = (tuple(groups), ("position_updated", str(position["id"])))
            if self._held.pop(key, None) is not None:
                del self._due_at[key]
            self._sent_at[key] = now

    def due(self, now: float, *, everything: bool = False) -> list[Event]:
        """The held states whose interval has passed (all of them with `everything`)."""
        ready = [key for key, due_at in self._due_at.items() if everything or due_at <= now]
        out = []
        for key in ready:
            out.append(self._held.pop(key))
            del self._due_at[key]
            self._sent_at[key] = now
        if len(self._sent_at) > 2 * len(self._held) + 10_000:  # forget objects gone quiet
            self._sent_at = {
                key: sent_at
                for key, sent_at in self._sent_at.items()
                if now - sent_at < self.interval or key in self._held
            }
        return out
