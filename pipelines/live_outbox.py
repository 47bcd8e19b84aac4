"""One websocket's outgoing live events: a bounded queue that lets a newer state of the same object
replace the one still waiting, drained by one sender task.

A socket that cannot keep up (a slow phone, a burst of position updates) must not make its web
process queue without end: a position's P&L that is already superseded is worth nothing to the
reader, so only its latest state waits: the states waiting are at most one per object the
trader has (capped at `STATE_LIMIT`). Events that are not states (a trade, a notification, a step
that started) are never merged; when more than `OUTBOX_LIMIT` of them wait, the oldest goes
(counted in `websocket_outbox_dropped_total`; the page's polling fallback brings it up to date)
and the latest states still arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from prometheus_client import Counter, Gauge

from config.core.live_throttle import state_key

logger = logging.getLogger(__name__)

OUTBOX_LIMIT = 100  # one-off events waiting for one socket
STATE_LIMIT = 1000  # latest states waiting for one socket (one per position or backtest)
ONCE = "once"

outbox_queued = Gauge(
    "websocket_outbox_queued",
    "Live events waiting in this process's websocket outboxes",
    multiprocess_mode="livesum",
)
outbox_coalesced = Counter(
    "websocket_outbox_coalesced",
    "Live events replaced by a newer state of the same object before they were sent",
)
outbox_dropped = Counter(
    "websocket_outbox_dropped",
    "Live events dropped, oldest first, from a websocket outbox that was full",
)

# When this process's event loop runs late, the socket's events arrive faster than they can be
# written: a sender then waits a moment before sending, so the states that pile up merge (the
# latest wins) and the process catches up instead of keeping everyone a minute behind.
BEHIND_SECONDS = 0.1
COALESCE_SECONDS = 0.25

_unique = itertools.count()


class _LoopLag:
    """How late the event loop runs a timer (smoothed), measured while sockets are open."""

    PERIOD = 0.05

    def __init__(self):
        self.seconds = 0.0
        self.outboxes = 0
        self._task: asyncio.Task | None = None

    def opened(self) -> None:
        self.outboxes += 1
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._measure())

    def closed(self) -> None:
        self.outboxes -= 1

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while self.outboxes > 0:
            started = loop.time()
            await asyncio.sleep(self.PERIOD)
            late = max(0.0, loop.time() - started - self.PERIOD)
            self.seconds = 0.7 * self.seconds + 0.3 * late
        self.seconds = 0.0


loop_lag = _LoopLag()


def superseding_key(payload: dict[str, Any]) -> Hashable:
    """What a later event of the same key makes stale: a position's state, a backtest's progress.
    Any other event gets a key of its own and is never merged."""
    return state_key(payload) or (ONCE, next(_unique))


class Outbox:
    """Events waiting for one socket, oldest first; `deliver` sends one of them."""

    def __init__(
        self,
        deliver: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        limit: int = OUTBOX_LIMIT,
        state_limit: int = STATE_LIMIT,
    ):
        self._deliver = deliver
        self._limits = {True: limit, False: state_limit}
        self._counts = {True: 0, False: 0}  # waiting one-off events, waiting states
        self._waiting: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()
        self._ready = asyncio.Event()
        self._sender: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def start(self) -> None:
        if self._sender is None:
            loop_lag.opened()
            self._sender = asyncio.get_running_loop().create_task(self._send_forever())

    async def stop(self) -> None:
        """Stop sending and forget what waits (the socket is gone)."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
            loop_lag.closed()
        outbox_queued.dec(len(self._waiting))
        self._waiting.clear()
        self._counts = {True: 0, False: 0}

    def put(self, payload: dict[str, Any]) -> None:
        key = superseding_key(payload)
        once = key[0] == ONCE
        if key in self._waiting:
            # The newer state takes the place at the back: events stay in the order they were
            # emitted, and the stale one is never sent.
            del self._waiting[key]
            outbox_coalesced.inc()
        else:
            outbox_queued.inc()
            self._counts[once] += 1
        self._waiting[key] = payload
        if self._counts[once] > self._limits[once]:
            self._drop_oldest(once=once)
        self._ready.set()

    def _drop_oldest(self, *, once: bool) -> None:
        oldest = next(key for key in self._waiting if (key[0] == ONCE) == once)
        del self._waiting[oldest]
        self._counts[once] -= 1
        outbox_queued.dec()
        outbox_dropped.inc()

    async def _send_forever(self) -> None:
        while True:
            await self._ready.wait()
            if loop_lag.seconds > BEHIND_SECONDS:
                await asyncio.sleep(COALESCE_SECONDS)
            self._ready.clear()
            while self._waiting:
                key, payload = self._waiting.popitem(last=False)
                self._counts[key[0] == ONCE] -= 1
                outbox_queued.dec()
                try:
                    await self._deliver(payload)
                except Exception:
                    # The socket closed under us (daphne refuses a send on a closed protocol):
                    # what still waits has no reader.
                    logger.info("live socket gone; %d event(s) not sent", len(self._waiting) + 1)
                    outbox_queued.dec(len(self._waiting))
                    self._waiting.clear()
                    self._counts = {True: 0, False: 0}
                    return
