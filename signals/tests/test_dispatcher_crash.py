"""A dispatcher that dies between reading a signal and acking it: the signal is still
processed exactly once, by another consumer or by the same one after a restart."""

from __future__ import annotations

import pytest

from pipelines.models import ExecutionStatus, PipelineExecution
from signals.models import SignalEvent
from signals.tests.factories import signal_body, signal_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_signal_read_by_a_dead_dispatcher_is_reclaimed_and_processed_once(
    owner, peer, bus, make_dispatcher, executions_queue
):
    first = signal_pipeline(owner=owner, tickers=["AAPL"])
    second = signal_pipeline(owner=peer, tickers=["AAPL", "NVDA"])
    unmatched = signal_pipeline(owner=owner, tickers=["MSFT"])
    survivor = make_dispatcher(bus, consumer="dispatcher-b")
    bus.publish(signal_body(tickers=[("AAPL", 90)]))

    # Dispatcher A reads the signal and dies before doing anything with it.
    [lost] = bus.read(consumer="dispatcher-a", count=10, block_ms=100)
    assert bus.pending_count() == 1
    # New reads do not see it: it is A's until someone claims it.
    assert survivor.run_once() == []

    results = survivor.reclaim(min_idle_ms=0)

    assert [(r.message_id, r.status) for r in results] == [(lost.message_id, "processed")]
    executions = PipelineExecution.objects.all()
    assert sorted(e.pipeline_id for e in executions) == sorted([first.pk, second.pk])
    assert not PipelineExecution.objects.filter(pipeline=unmatched).exists()
    assert len(executions_queue) == 2
    assert bus.pending_count() == 0
    assert survivor.reclaim(min_idle_ms=0) == []
    assert PipelineExecution.objects.count() == 2


def test_a_dispatcher_that_committed_but_died_before_acking_starts_nothing_twice(
    owner, bus, make_dispatcher, executions_queue
):
    pipeline = signal_pipeline(owner=owner)
    crashed = make_dispatcher(bus, consumer="dispatcher-a")
    survivor = make_dispatcher(bus, consumer="dispatcher-b")
    bus.publish(signal_body())

    [message] = bus.read(consumer="dispatcher-a", count=10, block_ms=100)
    handled = crashed.handle(message)  # executions committed and enqueued …
    assert handled.status == "processed"
    # … then the process died before XACK. The run it started has finished since, so the
    # one-active-execution rule cannot be what stops a second start.
    PipelineExecution.objects.update(status=ExecutionStatus.COMPLETED)
    assert bus.pending_count() == 1

    [result] = survivor.reclaim(min_idle_ms=0)

    assert result.status == "replayed"
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1
    assert SignalEvent.objects.count() == 1
    assert len(executions_queue) == 1  # the finished run is not sent again
    assert bus.pending_count() == 0


def test_a_restarted_dispatcher_finishes_what_it_read_before_it_died(owner, bus, make_dispatcher):
    pipeline = signal_pipeline(owner=owner)
    bus.ensure_group()
    bus.publish(signal_body())
    bus.read(consumer="dispatcher-a", count=10, block_ms=100)  # then the process was killed

    # The same consumer name comes back; its first turn reclaims its own pending entries.
    restarted = make_dispatcher(bus, consumer="dispatcher-a", reclaim_idle_ms=0)
    results = restarted.run_once()

    assert [r.status for r in results] == ["processed"]
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1
    assert bus.pending_count() == 0


def test_a_redelivery_re_enqueues_executions_whose_enqueue_was_lost(
    owner, bus, make_dispatcher, executions_queue
):
    pipeline = signal_pipeline(owner=owner)
    crashed = make_dispatcher(bus, consumer="dispatcher-a")
    survivor = make_dispatcher(bus, consumer="dispatcher-b")
    bus.publish(signal_body())
    [message] = bus.read(consumer="dispatcher-a", count=10, block_ms=100)
    crashed.handle(message)
    # The broker lost the message (or the process died between commit and enqueue).
    executions_queue.purge()

    [result] = survivor.reclaim(min_idle_ms=0)

    assert result.status == "replayed"
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1
    assert len(executions_queue) == 1
