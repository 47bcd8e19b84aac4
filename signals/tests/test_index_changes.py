"""Pipeline and scanner changes reach a running dispatcher at once (Redis pub/sub), without
waiting for the periodic rebuild."""

from __future__ import annotations

import pytest

from pipelines.models import PipelineExecution, PipelineStatus
from signals.tests.factories import signal_body, signal_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_scanners_new_tickers_take_effect_on_the_next_signal(owner, api, bus, make_dispatcher):
    pipeline = signal_pipeline(owner=owner, tickers=["MSFT"])
    dispatcher = make_dispatcher(bus)
    assert dispatcher.refresh_seconds >= 60  # the periodic rebuild is minutes away
    bus.publish(signal_body(tickers=[("AAPL", 90)]))
    dispatcher.run_once()
    assert not PipelineExecution.objects.exists()

    response = api.put(f"/api/v1/scanners/{pipeline.scanner_id}", {"tickers": ["msft", "aapl"]})
    assert response.status_code == 200, response.content
    bus.publish(signal_body(tickers=[("AAPL", 90)]))
    dispatcher.run_once()

    execution = PipelineExecution.objects.get()
    assert (execution.pipeline_id, execution.trigger_detail["symbols"]) == (pipeline.pk, ["AAPL"])
    assert dispatcher._building is None  # no full rebuild happened


def test_a_pipeline_that_is_paused_or_activated_is_updated_at_once(owner, bus, make_dispatcher):
    pipeline = signal_pipeline(owner=owner, status=PipelineStatus.PAUSED)
    dispatcher = make_dispatcher(bus)
    assert str(pipeline.pk) not in dispatcher.index

    pipeline.status = PipelineStatus.ACTIVE
    pipeline.save()
    dispatcher.run_once()
    assert str(pipeline.pk) in dispatcher.index

    pipeline.status = PipelineStatus.PAUSED
    pipeline.save()
    bus.publish(signal_body())
    dispatcher.run_once()
    assert str(pipeline.pk) not in dispatcher.index
    assert not PipelineExecution.objects.exists()


def test_a_deleted_scanners_pipelines_fall_back_to_their_own_symbols(owner, bus, make_dispatcher):
    pipeline = signal_pipeline(owner=owner, tickers=["ZZZZ"])
    dispatcher = make_dispatcher(bus)
    assert dispatcher.index.row(str(pipeline.pk)).tickers == ("ZZZZ",)

    # The database sets the pipeline's scanner to NULL without a pipeline save: only the
    # scanner's delete is announced, and the dispatcher must still find its pipelines.
    pipeline.scanner.delete()
    dispatcher.run_once()

    row = dispatcher.index.row(str(pipeline.pk))
    assert row.scanner_id is None
    assert row.tickers == tuple(pipeline.symbols)


def test_a_periodic_rebuild_swaps_in_a_fresh_index(owner, bus, make_dispatcher):
    dispatcher = make_dispatcher(bus, listen_for_changes=False, refresh_seconds=5)
    pipeline = signal_pipeline(owner=owner)
    assert str(pipeline.pk) not in dispatcher.index  # not listening: it cannot know yet

    dispatcher._next_refresh = 0  # the refresh is due
    dispatcher.run_once()  # starts the rebuild on the worker thread
    dispatcher._building.result(timeout=30)
    dispatcher.run_once()  # swaps it in

    assert str(pipeline.pk) in dispatcher.index
