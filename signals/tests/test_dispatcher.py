"""The dispatcher: a signal starts exactly the pipelines it matches, once."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import SubscriptionTier
from pipelines.models import ExecutionStatus, PipelineExecution, PipelineStatus, RunMode
from pipelines.services import execution_start
from signals.models import MatchOutcome, SignalEvent, SignalMatch
from signals.tests.factories import signal_body, signal_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


def _started(pipeline) -> list[PipelineExecution]:
    return list(PipelineExecution.objects.filter(pipeline=pipeline))


def test_it_starts_exactly_the_pipelines_a_golden_cross_on_aapl_matches(
    owner, peer, bus, make_dispatcher, executions_queue
):
    aapl_80 = signal_pipeline(owner=owner, tickers=["AAPL"], subscriptions=[("golden_cross", 80)])
    two_tickers = signal_pipeline(
        owner=owner, tickers=["MSFT", "AAPL"], subscriptions=[("golden_cross", 0)]
    )
    peers = signal_pipeline(owner=peer, tickers=["AAPL"], subscriptions=[("golden_cross", 50)])
    other_ticker = signal_pipeline(owner=owner, tickers=["MSFT"])
    other_type = signal_pipeline(owner=owner, subscriptions=[("rsi_oversold", 0)])
    too_confident = signal_pipeline(owner=owner, subscriptions=[("golden_cross", 90)])
    paused = signal_pipeline(owner=owner, status=PipelineStatus.PAUSED)
    scheduled = signal_pipeline(owner=owner, run_mode=RunMode.RUN_SCHEDULED)
    dispatcher = make_dispatcher(bus)

    signal = signal_body(signal_type="golden_cross", tickers=[("AAPL", 85.5)])
    bus.publish(signal)
    [result] = dispatcher.run_once()

    assert result.status == "processed"
    started = {e.pipeline_id: e for e in PipelineExecution.objects.all()}
    assert set(started) == {aapl_80.pk, two_tickers.pk, peers.pk}
    for execution in started.values():
        assert execution.status == ExecutionStatus.PENDING
        assert execution.trigger_source == "signal"
        assert execution.trigger_detail["signal_id"] == signal["signal_id"]
        assert execution.trigger_detail["symbols"] == ["AAPL"]
    for pipeline in (other_ticker, other_type, too_confident, paused, scheduled):
        assert _started(pipeline) == []
    event = SignalEvent.objects.get()
    assert (event.signal_id, event.matched_count, event.started_count) == (
        signal["signal_id"],
        3,
        3,
    )
    assert set(SignalMatch.objects.values_list("execution_id", flat=True)) == {
        e.pk for e in started.values()
    }
    # Committed and enqueued before the message was acked.
    assert len(executions_queue) == 3
    assert bus.pending_count() == 0


def test_the_same_signal_id_published_twice_starts_nothing_new(
    owner, bus, make_dispatcher, executions_queue
):
    pipeline = signal_pipeline(owner=owner)
    dispatcher = make_dispatcher(bus)
    signal = signal_body()
    bus.publish(signal)
    assert [r.status for r in dispatcher.run_once()] == ["processed"]
    # The first run is over, so only the duplicate check can stop a second one.
    PipelineExecution.objects.update(status=ExecutionStatus.COMPLETED)

    bus.publish(signal)
    assert [r.status for r in dispatcher.run_once()] == ["duplicate"]

    assert len(_started(pipeline)) == 1
    assert SignalEvent.objects.count() == 1
    assert len(executions_queue) == 1
    assert bus.pending_count() == 0


def test_the_same_signal_id_from_two_users_is_two_signals(owner, peer, bus, make_dispatcher):
    mine = signal_pipeline(owner=owner, subscriptions=[("webhook", 0)])
    theirs = signal_pipeline(owner=peer, subscriptions=[("webhook", 0)])
    dispatcher = make_dispatcher(bus)
    signal = signal_body(signal_type="webhook", signal_id="alert-1")
    bus.publish(signal, owner_id=owner.pk)
    bus.publish(signal, owner_id=peer.pk)

    assert [r.status for r in dispatcher.run_once()] == ["processed", "processed"]

    assert len(_started(mine)) == 1
    assert len(_started(theirs)) == 1


def test_a_users_signal_only_matches_that_users_pipelines(owner, peer, bus, make_dispatcher):
    mine = signal_pipeline(owner=owner, subscriptions=[("webhook", 0)])
    theirs = signal_pipeline(owner=peer, subscriptions=[("webhook", 0)])
    dispatcher = make_dispatcher(bus)

    bus.publish(signal_body(signal_type="webhook"), owner_id=owner.pk)
    dispatcher.run_once()

    assert len(_started(mine)) == 1
    assert _started(theirs) == []
    assert SignalEvent.objects.get().owner_id == owner.pk


def test_a_pipeline_already_running_is_skipped(owner, bus, make_dispatcher):
    busy = signal_pipeline(owner=owner)
    running = execution_start(pipeline=busy, enqueue=False)
    dispatcher = make_dispatcher(bus)

    bus.publish(signal_body())
    [result] = dispatcher.run_once()

    assert (result.matched, result.started) == (1, [])
    assert [e.pk for e in _started(busy)] == [running.pk]
    match = SignalMatch.objects.get()
    assert match.outcome == MatchOutcome.SKIPPED
    assert "already pending or running" in match.reason


def test_a_signal_matching_nothing_is_still_logged(owner, bus, make_dispatcher):
    dispatcher = make_dispatcher(bus)
    bus.publish(signal_body(tickers=[("ZZZZ", 99)]))

    [result] = dispatcher.run_once()

    assert (result.status, result.matched) == ("processed", 0)
    assert SignalEvent.objects.get().matched_count == 0


def test_a_message_that_is_not_a_signal_is_dropped_and_acked(owner, bus, make_dispatcher):
    pipeline = signal_pipeline(owner=owner)
    dispatcher = make_dispatcher(bus)
    bad = signal_body()
    bad["tickers"][0]["confidence"] = 250
    bus.publish(bad)

    [result] = dispatcher.run_once()

    assert result.status == "malformed"
    assert _started(pipeline) == []
    assert bus.pending_count() == 0


@override_settings(ENFORCE_SUBSCRIPTION_LIMITS=True)
def test_subscriptions_above_the_owners_tier_are_ignored(owner, peer, bus, make_dispatcher):
    owner.subscription_tier = SubscriptionTier.FREE
    owner.save()
    # Written straight to the row, past the API's tier check (e.g. after a downgrade).
    free = signal_pipeline(owner=owner, subscriptions=[("golden_cross", 0)])
    basic = signal_pipeline(owner=peer, subscriptions=[("golden_cross", 0)])
    dispatcher = make_dispatcher(bus)

    bus.publish(signal_body(signal_type="golden_cross"))
    dispatcher.run_once()

    assert _started(free) == []
    assert len(_started(basic)) == 1


def test_a_repeat_after_the_redis_key_expired_still_starts_nothing(owner, bus, make_dispatcher):
    pipeline = signal_pipeline(owner=owner)
    dispatcher = make_dispatcher(bus)
    signal = signal_body()
    bus.publish(signal)
    dispatcher.run_once()
    PipelineExecution.objects.update(status=ExecutionStatus.COMPLETED)
    for key in bus.client.scan_iter(f"{bus.stream}:seen:*"):
        bus.client.delete(key)  # as if SIGNAL_DEDUP_TTL_SECONDS had passed

    bus.publish(signal)
    [result] = dispatcher.run_once()

    assert result.status == "replayed"  # the signal log remembers it
    assert len(_started(pipeline)) == 1
