"""Fixtures for signal tests: a bus on a stream of its own, dispatchers, the Celery queue."""

from __future__ import annotations

import uuid

import pytest

from config.celery import app as celery_app
from signals.bus import RedisStreamBus
from signals.dispatcher import Dispatcher
from signals.redis import bus_redis


def _drop_stream(stream: str) -> None:
    client = bus_redis()
    client.delete(stream, f"{stream}:dead")
    for pattern in (f"{stream}:seen:*", f"{stream}:failures:*"):
        for key in client.scan_iter(pattern, count=1000):
            client.delete(key)


@pytest.fixture
def bus():
    """A Redis Streams bus on a fresh stream (the real Redis, the tests' logical database)."""
    stream = f"test-signals-{uuid.uuid4().hex[:12]}"
    signal_bus = RedisStreamBus(stream=stream, group="test-dispatchers")
    yield signal_bus
    _drop_stream(stream)


@pytest.fixture
def default_bus():
    """The bus the webhook publishes to (the configured stream), emptied before and after."""
    signal_bus = RedisStreamBus()
    _drop_stream(signal_bus.stream)
    yield signal_bus
    _drop_stream(signal_bus.stream)


@pytest.fixture
def make_dispatcher():
    """Started dispatchers (index built, listening for changes), closed after the test."""
    made: list[Dispatcher] = []

    def _make(bus, *, consumer: str = "dispatcher-a", **options) -> Dispatcher:
        options.setdefault("block_ms", 50)
        dispatcher = Dispatcher(bus=bus, consumer=consumer, **options)
        dispatcher.start()
        made.append(dispatcher)
        return dispatcher

    yield _make
    for dispatcher in made:
        dispatcher.close()


def _purge_executions_queue() -> int:
    with celery_app.connection_for_write() as connection:
        return connection.default_channel.queue_purge("executions") or 0


def _executions_queue_length() -> int:
    with celery_app.connection_for_write() as connection:
        return connection.default_channel.client.llen("executions")


@pytest.fixture
def executions_queue():
    """The Celery queue executions are sent to (real Redis, nobody consuming), empty at start."""

    class Queue:
        def __len__(self) -> int:
            return _executions_queue_length()

        def purge(self) -> None:
            _purge_executions_queue()

    _purge_executions_queue()
    yield Queue()
    _purge_executions_queue()
