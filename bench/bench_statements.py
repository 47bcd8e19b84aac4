"""The dispatcher's and the monitor's hand-written statements against their ORM twins, back to
back: the signal's record (signals.services.dispatch._SIGNAL_RECORD_SQL), the matched
pipelines with their held symbols (dispatch._MATCHED_PIPELINES_SQL) and the marks of many
positions (trading.position_marks._MARKS_SQL). Each pair runs alternately, in rounds, on the
same rows, so a busy machine slows both alike; the comment beside each statement quotes them.

Run with `make bench` (or `uv run python bench/bench_statements.py [records]`).
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from common import alternate, bench_user, fresh_tables, print_timings, setup_django

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
GRAPH = {
    "nodes": [
        {
            "id": "trigger",
            "agent_type": "price_trigger",
            "config": {"condition": "above", "level": 0.01},
        },
        {"id": "report", "agent_type": "reporting_agent", "config": {}},
    ],
    "edges": [{"from": "trigger", "to": "report"}],
}
PIPELINES = 10
BUSY = 2  # of them with a run under way: the one-active-execution index refuses their runs
HELD_PER_PIPELINE = 3  # open positions; one more symbol queued as a simulated entry
SIGNAL_SOURCE = "bench-statements"
MARK_FIELDS = ["current_price", "unrealized_pnl", "price_updated_at"]


def _clear(user) -> None:
    """The bench user's pipelines (their runs with them), orders and signal log."""
    from pipelines.models import Pipeline
    from signals.models import SignalEvent
    from trading.models import Order

    Pipeline.objects.filter(owner=user).delete()
    Order.objects.filter(owner=user).delete()
    SignalEvent.objects.filter(source=SIGNAL_SOURCE).delete()
    fresh_tables(user)


def _pipelines(user):
    from pipelines import services
    from trading.models import Mode, Order, OrderStatus, Position

    _clear(user)
    pipelines, positions, orders = [], [], []
    for number in range(PIPELINES):
        pipeline, _ = services.pipeline_create(
            owner=user, name=f"bench statements {number}", graph=GRAPH, symbols=["TSLA"]
        )
        pipelines.append(pipeline)
        for held in range(HELD_PER_PIPELINE):
            positions.append(
                Position(
                    owner=user,
                    trading_mode=Mode.SIMULATION,
                    symbol=f"P{number:02d}H{held}",
                    side="long",
                    quantity=100,
                    average_price=Decimal("10.0000"),
                    pipeline_id=pipeline.pk,
                    opened_at=NOW,
                )
            )
        orders.append(
            Order(
                owner=user,
                trading_mode=Mode.SIMULATION,
                client_order_id=f"bench-{pipeline.pk}",
                pipeline_id=pipeline.pk,
                symbol=f"P{number:02d}Q",
                side="buy",
                quantity=100,
                status=OrderStatus.ACCEPTED,
                raw={"entry_plan": {"stop_loss": "9.50"}},
            )
        )
    Position.objects.bulk_create(positions)
    Order.objects.bulk_create(orders)
    return pipelines


# --- the signal's record ----------------------------------------------------------------------


def _record_inputs(pipelines, number: int):
    """A signal matching `pipelines`: its executions and match rows, as the dispatcher makes."""
    from pipelines.services import signal_execution_row
    from signals.models import MatchOutcome

    signal = {
        "signal_id": f"bench-{uuid.uuid4()}",
        "signal_type": "golden_cross",
        "source": SIGNAL_SOURCE,
        "timestamp": NOW.timestamp(),
        "tickers": [{"ticker": "TSLA", "signal": "buy", "confidence": 80}],
    }
    executions, matches = [], []
    for pipeline in pipelines:
        row = signal_execution_row(pipeline=pipeline, signal=signal, symbols=["TSLA"])
        executions.append(row)
        matches.append(
            {
                "owner_id": pipeline.owner_id,
                "pipeline_id": str(pipeline.pk),
                "execution_id": str(row["id"]),
                "symbols": ["TSLA"],
                "outcome": MatchOutcome.STARTED,
                "reason": "",
            }
        )
    return {
        "key": f"-:{signal['signal_id']}",
        "signal": signal,
        "owner_id": None,
        "message_id": f"{number}-0",
        "executions": executions,
        "matches": matches,
        "received_at": NOW,
    }


def _raw_record(inputs):
    from signals.services.dispatch import _signal_record_write

    return _signal_record_write(**inputs)


def _orm_record(inputs):
    """The same rows through the ORM, in one transaction: each execution created in a savepoint
    (the one-active-execution index's refusal an IntegrityError: the match logged as skipped),
    the log row (its dedup key's unique index), the matches bulk-created."""
    from django.db import IntegrityError, transaction

    from pipelines.models import ExecutionStatus, PipelineExecution
    from signals.models import MatchOutcome, SignalEvent, SignalMatch
    from signals.services.dispatch import RUN_UNDER_WAY

    signal, started = inputs["signal"], []
    with transaction.atomic():
        for row in inputs["executions"]:
            try:
                with transaction.atomic():
                    PipelineExecution.objects.create(status=ExecutionStatus.PENDING, **row)
            except IntegrityError:
                continue
            started.append(row["id"])
        event = SignalEvent.objects.create(
            dedup_key=inputs["key"],
            signal_id=signal["signal_id"],
            signal_type=signal["signal_type"],
            source=signal["source"],
            owner_id=inputs["owner_id"],
            tickers=signal["tickers"],
            signal_at=datetime.fromtimestamp(signal["timestamp"], tz=UTC),
            message_id=inputs["message_id"],
            matched_count=len(inputs["matches"]),
            started_count=len(started),
            received_at=inputs["received_at"],
        )
        ran = {str(execution_id) for execution_id in started}
        skipped = {"execution_id": None, "outcome": MatchOutcome.SKIPPED, "reason": RUN_UNDER_WAY}
        SignalMatch.objects.bulk_create(
            SignalMatch(
                event=event, **(match if match["execution_id"] in ran else {**match, **skipped})
            )
            for match in inputs["matches"]
        )
    return event.pk, started


def _bench_record(count: int, pipelines, label: str) -> None:
    from pipelines.models import ExecutionStatus, PipelineExecution
    from signals.models import MatchOutcome, SignalMatch

    numbers = itertools.count()

    refused = min(BUSY, len(pipelines) - 1)  # pipelines[1:1 + BUSY] have a run under way

    def finish(result):
        """Both ways wrote the same rows; then the runs end, so the next signal starts them."""
        event_id, started = result
        assert len(started) == len(pipelines) - refused, started
        skipped = SignalMatch.objects.filter(event_id=event_id, outcome=MatchOutcome.SKIPPED)
        assert skipped.count() == refused
        PipelineExecution.objects.filter(pk__in=started).update(status=ExecutionStatus.COMPLETED)

    print_timings(
        f"the signal's record, {label} (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(
            count,
            {
                "one prepared statement": lambda: _raw_record(
                    _record_inputs(pipelines, next(numbers))
                ),
                "ORM, savepoint per run + 2 + tx": lambda: _orm_record(
                    _record_inputs(pipelines, next(numbers))
                ),
            },
            after=finish,
        ),
    )


# --- the matched pipelines --------------------------------------------------------------------


def _orm_matched_arraysubquery(ids):
    """The pipelines with their held symbols as one ArraySubquery over a UNION."""
    from django.contrib.postgres.expressions import ArraySubquery
    from django.db.models import OuterRef

    from pipelines.models import Pipeline
    from trading.models import Order, OrderStatus, Position, PositionStatus

    positions = Position.objects.filter(
        pipeline_id=OuterRef("pk"), status=PositionStatus.OPEN
    ).values("symbol")
    queued = Order.objects.filter(
        pipeline_id=OuterRef("pk"),
        status=OrderStatus.ACCEPTED,
        raw__has_key="entry_plan",
    ).values("symbol")
    held = positions.union(queued)
    pipelines = list(Pipeline.objects.filter(id__in=ids).annotate(held=ArraySubquery(held)))
    for pipeline in pipelines:
        pipeline.open_symbols = sorted(pipeline.held)
    return pipelines


def _orm_matched_two_arrays(ids):
    """The pipelines with two ArraySubquery annotations, merged and sorted in Python."""
    from django.contrib.postgres.expressions import ArraySubquery
    from django.db.models import OuterRef

    from pipelines.models import Pipeline
    from trading.models import Order, OrderStatus, Position, PositionStatus

    positions = Position.objects.filter(
        pipeline_id=OuterRef("pk"), status=PositionStatus.OPEN
    ).values("symbol")
    queued = Order.objects.filter(
        pipeline_id=OuterRef("pk"), status=OrderStatus.ACCEPTED, raw__has_key="entry_plan"
    ).values("symbol")
    pipelines = list(
        Pipeline.objects.filter(id__in=ids).annotate(
            held_positions=ArraySubquery(positions), held_entries=ArraySubquery(queued)
        )
    )
    for pipeline in pipelines:
        pipeline.open_symbols = sorted({*pipeline.held_positions, *pipeline.held_entries})
    return pipelines


def _orm_matched_per_pipeline(ids):
    """The pipelines, then trading.selectors.held_symbols for each (two queries a pipeline)."""
    from pipelines.models import Pipeline
    from trading.selectors import held_symbols

    pipelines = list(Pipeline.objects.filter(id__in=ids))
    for pipeline in pipelines:
        pipeline.open_symbols = held_symbols(pipeline_id=pipeline.pk)
    return pipelines


def _bench_matched(count: int, pipelines, label: str) -> None:
    from signals.services.dispatch import _matched_pipelines

    ids = [str(pipeline.pk) for pipeline in pipelines]
    expected = {p.pk: sorted(p.open_symbols) for p in _matched_pipelines(ids)}
    ways = {
        "one prepared statement": lambda: _matched_pipelines(ids),
        "ORM, two ArraySubquery": lambda: _orm_matched_two_arrays(ids),
        "ORM, held_symbols per pipeline": lambda: _orm_matched_per_pipeline(ids),
    }
    try:
        _orm_matched_arraysubquery(ids)
        ways["ORM, ArraySubquery of a UNION"] = lambda: _orm_matched_arraysubquery(ids)
    except Exception as error:  # report what the ORM cannot express
        print(f"  (ArraySubquery of a UNION: {type(error).__name__}: {error})")
    for call in ways.values():
        assert {p.pk: sorted(p.open_symbols) for p in call()} == expected
    print_timings(
        f"the matched pipelines, {label} (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(count, ways),
    )


# --- the marks --------------------------------------------------------------------------------


def _open_positions(user, size: int):
    from trading.models import Mode, Position

    Position.objects.filter(owner=user).delete()
    Position.objects.bulk_create(
        (
            Position(
                owner=user,
                trading_mode=Mode.SIMULATION,
                symbol=f"M{number:05d}",
                side="long" if number % 2 else "short",
                quantity=100,
                average_price=Decimal("50.0000"),
                opened_at=NOW,
            )
            for number in range(size)
        ),
        batch_size=2_000,
    )
    return list(Position.objects.filter(owner=user).order_by("pk"))


def _mark(positions, step: int) -> datetime:
    """Give the positions a new price (different each call, so every row really changes); done
    untimed between the calls, so the figures are the writes alone."""
    from trading import services

    price = Decimal("50.0000") + Decimal(step % 100) / 100
    now = NOW + timedelta(seconds=step)
    for position in positions:
        position.current_price = price
        position.unrealized_pnl = services.unrealized_pnl(position, price)
        position.price_updated_at = now
    return now


def _bench_marks(user, size: int, count: int) -> None:
    from trading.models import Position
    from trading.position_marks import _write_marks

    positions = _open_positions(user, size)
    steps = itertools.count()
    marked_at = [_mark(positions, next(steps))]

    def remark(_result):
        marked_at[0] = _mark(positions, next(steps))

    def bulk_update(batch_size=None):
        Position.objects.bulk_update(positions, MARK_FIELDS, batch_size=batch_size)

    print_timings(
        f"marks of {size:,} positions (load average {os.getloadavg()[0]:.1f}), {count} of each",
        alternate(
            count,
            {
                "UPDATE … FROM unnest()": lambda: _write_marks(positions, marked_at[0]),
                "bulk_update, one batch (default)": bulk_update,
                "bulk_update, batches of 500": lambda: bulk_update(500),
                "bulk_update, batches of 100": lambda: bulk_update(100),
            },
            after=remark,
        ),
    )
    Position.objects.filter(owner=user).delete()


def main(count: int) -> None:
    from pipelines.models import ExecutionStatus, PipelineExecution

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}")
    user = bench_user("bench-statements@tradecrew.local")
    pipelines = _pipelines(user)
    busy = pipelines[1 : 1 + BUSY]
    PipelineExecution.objects.bulk_create(
        PipelineExecution(
            pipeline=pipeline,
            owner=user,
            status=ExecutionStatus.RUNNING,
            trigger_source="manual",
            graph=pipeline.graph,
        )
        for pipeline in busy
    )
    _bench_record(count, pipelines[:1], "1 match")
    _bench_record(count, pipelines, f"{PIPELINES} matches, {BUSY} with a run under way")
    _bench_matched(count, pipelines[:1], "1 pipeline")
    _bench_matched(count, pipelines, f"{PIPELINES} pipelines")
    _clear(user)
    _bench_marks(user, 1_000, max(5, count // 20))
    _bench_marks(user, 10_000, 5)


if __name__ == "__main__":
    setup_django()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
