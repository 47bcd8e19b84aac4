"""What a pipeline holds: open positions and queued simulated entries, the same by ORM and SQL."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from trading.models import Order, OrderStatus, Position, PositionSide, PositionStatus
from trading.selectors import held_symbols, held_symbols_sql


def _position(owner, pipeline_id, symbol, status=PositionStatus.OPEN):
    return Position.objects.create(
        owner=owner,
        trading_mode="simulation",
        symbol=symbol,
        side=PositionSide.LONG,
        quantity=10,
        average_price=Decimal("100"),
        status=status,
        pipeline_id=pipeline_id,
        opened_at=timezone.now(),
    )


def _order(owner, pipeline_id, symbol, status, raw):
    return Order.objects.create(
        owner=owner,
        trading_mode="simulation",
        client_order_id=f"tc-{uuid.uuid4().hex[:20]}",
        pipeline_id=pipeline_id,
        symbol=symbol,
        side="buy",
        quantity=10,
        status=status,
        raw=raw,
    )


@pytest.mark.django_db
def test_it_lists_open_positions_and_queued_entries_as_the_sql_does(owner):
    pipeline_id, other = uuid.uuid4(), uuid.uuid4()
    _position(owner, pipeline_id, "MSFT")
    _position(owner, pipeline_id, "TSLA", status=PositionStatus.CLOSED)
    _position(owner, other, "NVDA")
    _order(owner, pipeline_id, "AAPL", OrderStatus.ACCEPTED, {"entry_plan": {}})
    _order(owner, pipeline_id, "MSFT", OrderStatus.ACCEPTED, {"entry_plan": {}})
    _order(owner, pipeline_id, "AMZN", OrderStatus.ACCEPTED, {})
    _order(owner, pipeline_id, "META", OrderStatus.FILLED, {"entry_plan": {}})

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {held_symbols_sql('%(pipeline)s::uuid')}", {"pipeline": pipeline_id}
        )
        (by_sql,) = cursor.fetchone()

    assert held_symbols(pipeline_id=pipeline_id) == ["AAPL", "MSFT"]
    assert by_sql == held_symbols(pipeline_id=pipeline_id)
