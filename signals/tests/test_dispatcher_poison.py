"""A poison message never holds up the others: it is retried a bounded number of times, then
dead-lettered with its error and acknowledged, while the rest of its batch is recorded."""

from __future__ import annotations

import json

import pytest
import redis
from django.db import connection

from signals import metrics
from signals.models import SignalEvent
from signals.tests.factories import signal_body, signal_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


def _publish_raw(bus, signal: dict, *, owner_id: int | None = None) -> str:
    """XADD exactly as a bus client would, without any validation on the way (an old intake,
    another producer): what the dispatcher must survive."""
    message_id = bus.client.xadd(
        bus.stream,
        {"signal": json.dumps(signal), "owner": str(owner_id or ""), "published_at": "1.0"},
    )
    return message_id.decode()


@pytest.fixture
def record_refused_for_signal_id():
    """A real database fault for one signal id: a trigger that raises on its log row, the way a
    value PostgreSQL refuses would (no code of ours is replaced)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION refuse_poison_signal() RETURNS trigger AS $$
            BEGIN
              IF NEW.signal_id = 'poison_record' THEN
                RAISE EXCEPTION 'refused for the test' USING ERRCODE = '22000';
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_poison_signal BEFORE INSERT ON signals_signalevent
              FOR EACH ROW EXECUTE FUNCTION refuse_poison_signal();
            """
        )
    yield "poison_record"
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS refuse_poison_signal ON signals_signalevent;"
            "DROP FUNCTION IF EXISTS refuse_poison_signal();"
        )


@pytest.mark.parametrize(
    "poison",
    [
        {"timestamp": 1e20},
        {"source": "bad\x00source"},
        {"tickers": [{"ticker": "AAPL", "signal": "BULLISH", "confidence": 1e309}]},
    ],
    ids=["huge-timestamp", "nul-in-source", "infinite-confidence"],
)
def test_it_records_ten_valid_signals_and_dead_letters_the_poison_in_their_batch(
    owner, bus, make_dispatcher, executions_queue, poison
):
    signal_pipeline(owner=owner, tickers=["AAPL"], subscriptions=[("golden_cross", 0)])
    dispatcher = make_dispatcher(bus)
    valid = [signal_body() for _ in range(10)]
    for signal in valid[:5]:
        bus.publish(signal)
    poison_id = _publish_raw(bus, {**signal_body(), **poison})
    for signal in valid[5:]:
        bus.publish(signal)
    before = metrics.signals_dead_lettered.labels(reason="malformed")._value.get()

    results = dispatcher.run_once()

    assert set(SignalEvent.objects.values_list("signal_id", flat=True)) == {
        s["signal_id"] for s in valid
    }
    assert len(executions_queue) == 1  # one run started; the other nine were skipped: under way
    [poison_letter] = bus.dead_letters()
    assert poison_letter["message_id"] == poison_id
    assert poison_letter["reason"] == "malformed"
    assert poison_letter["error"]
    assert bus.pending_count() == 0  # acknowledged, nothing left to redeliver
    assert [r.status for r in results].count("malformed") == 1
    assert [r.status for r in results].count("processed") == 10
    assert metrics.signals_dead_lettered.labels(reason="malformed")._value.get() == before + 1


def test_it_retries_a_signal_that_fails_to_record_then_dead_letters_it(
    owner, bus, make_dispatcher, record_refused_for_signal_id
):
    signal_pipeline(owner=owner, tickers=["AAPL"], subscriptions=[("golden_cross", 0)])
    dispatcher = make_dispatcher(bus, max_deliveries=3)
    valid = [signal_body() for _ in range(10)]
    for signal in valid[:5]:
        bus.publish(signal)
    poison_id = bus.publish(signal_body(signal_id=record_refused_for_signal_id))
    for signal in valid[5:]:
        bus.publish(signal)

    first = dispatcher.run_once()

    # The ten behind and around it were recorded in the same turn; the poison waits for a retry.
    assert SignalEvent.objects.count() == 10
    assert [r.status for r in first if r.message_id == poison_id] == ["failed"]
    assert bus.pending_count() == 1
    assert bus.dead_letters() == []

    second = dispatcher.reclaim(min_idle_ms=0)
    assert [r.status for r in second] == ["failed"]
    assert bus.pending_count() == 1

    third = dispatcher.reclaim(min_idle_ms=0)
    assert [r.status for r in third] == ["dead_lettered"]
    assert bus.pending_count() == 0
    [letter] = bus.dead_letters()
    assert letter["message_id"] == poison_id
    assert letter["reason"] == "failed"
    assert letter["attempts"] == "3"
    assert "refused for the test" in letter["error"]
    assert json.loads(letter["signal"])["signal_id"] == record_refused_for_signal_id
    # Nothing of the poison was half-written, and nothing more is ever redelivered.
    assert not SignalEvent.objects.filter(signal_id=record_refused_for_signal_id).exists()
    assert dispatcher.reclaim(min_idle_ms=0) == []
    assert SignalEvent.objects.count() == 10


def test_it_does_not_count_an_outage_against_the_message(owner, bus, make_dispatcher):
    """A lost Redis connection is the loop's to retry, not a strike against the signal."""
    dispatcher = make_dispatcher(bus, max_deliveries=1)
    message_id = bus.publish(signal_body())
    [message] = bus.read(consumer="dispatcher-a", count=10, block_ms=10)
    real_redis = dispatcher.redis
    # A client on a socket nobody listens on: the real library's ConnectionError.
    dispatcher.redis = redis.Redis(unix_socket_path="/nonexistent/redis.sock")
    with pytest.raises(redis.ConnectionError):
        dispatcher.process(message)
    dispatcher.redis = real_redis
    assert bus.dead_letters() == []
    assert bus.pending_count() == 1
    [result] = dispatcher.reclaim(min_idle_ms=0)
    assert (result.message_id, result.status) == (message_id, "processed")


def test_operators_can_list_the_dead_letters(owner, default_bus, make_dispatcher):
    from io import StringIO

    from django.core.management import call_command

    dispatcher = make_dispatcher(default_bus)
    poison_id = _publish_raw(default_bus, {**signal_body(), "timestamp": 1e20}, owner_id=owner.pk)
    dispatcher.run_once()
    out = StringIO()

    call_command("signal_dead_letters", stdout=out)

    text = out.getvalue()
    assert "1 dead-lettered signals" in text
    assert poison_id in text and "malformed after 1 attempt(s)" in text
    assert "timestamp" in text
