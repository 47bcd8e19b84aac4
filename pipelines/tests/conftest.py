"""Fixtures for pipeline tests: a session-time clock, template pipelines, an event listener."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import pytest
from channels.layers import get_channel_layer

from agents.tests.custom_support import (  # noqa: F401 - custom-strategy fixtures
    no_llm,
    openai_fake,
    reviewer,
)
from pipelines.blueprints import pipeline_create_from_blueprint
from trading.clock import ManualClock

# Tuesday 2026-11-24, 10:00 New York: the market has been open for half an hour.
SESSION_TIME = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)

# A run's last event: it completed (whatever its status) or it waits for its trigger.
RUN_ENDING_EVENTS = ("execution_completed", "execution_waiting")


@pytest.fixture
def clock():
    return ManualClock(SESSION_TIME)


@pytest.fixture
def day_trading(owner):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    return pipeline


class EventListener:
    """Joins a Channels group on the real Redis channel layer and collects what arrives.

    The pub/sub layer keeps subscriptions per event loop, so the listener runs its own loop in
    a thread for its whole life."""

    def __init__(self, group: str):
        self.group = group
        self.events: list[dict] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._run(self._subscribe())

    def _run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _subscribe(self):
        self.layer = get_channel_layer()
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self._task = asyncio.ensure_future(self._collect())

    async def _collect(self):
        while True:
            message = await self.layer.receive(self.channel)
            self.events.append(message["payload"])

    def drain(self, until: tuple[str, ...] = RUN_ENDING_EVENTS, timeout: float = 60) -> list[dict]:
        """Every event received so far, once one named in `until` (by default the event that
        ends a run) has arrived; fails after `timeout` seconds without it."""
        deadline = time.monotonic() + timeout
        while not any(event.get("event") in until for event in list(self.events)):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {until} event within {timeout}s: {self.events}")
            time.sleep(0.02)
        return list(self.events)

    def close(self):
        async def stop():
            self._task.cancel()
            await self.layer.group_discard(self.group, self.channel)

        self._run(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture
def listen():
    listeners = []

    def _listen(group: str) -> EventListener:
        listener = EventListener(group)
        listeners.append(listener)
        return listener

    yield _listen
    for listener in listeners:
        listener.close()
