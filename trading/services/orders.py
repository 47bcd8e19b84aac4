"""Orders: the intent row written before the broker call, placing it, recording the result; an
exit leg the broker filled on its own, recorded when the monitor finds it."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from django.db import connection

from accounts.models import User
from config.core import metrics
from trading.executors.base import (
    BracketOrderRequest,
    ExecutionError,
    OrderResult,
    TradeExecutor,
)
from trading.models import (
    Order,
    OrderStatus,
    Position,
    PositionSide,
)
from trading.services.amounts import FINAL_ORDER_STATUSES, RESULT_STATUS, price4

logger = logging.getLogger(__name__)


# --- Orders -----------------------------------------------------------------------------------
def _in_real_transaction() -> bool:
    """In an atomic block other than the test runner's own wrapper around each test."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def order_intent(
    *,
    owner: User,
    mode: str,
    request: BracketOrderRequest,
    pipeline_id: UUID | None,
    execution_id: UUID | None,
    node_id: str,
    leg: str,
) -> tuple[Order, bool]:
    """The order row for `request`, written and committed before anything is sent; a second
    call with the same client_order_id returns the first row (created = False)."""
    if _in_real_transaction():
        # The intent must be durable before the broker hears of the order, so a crash between
        # the two is found by the look-up on retry instead of producing a second order.
        raise RuntimeError("order_intent must run outside a transaction (autocommit)")
    return Order.objects.get_or_create(
        client_order_id=request.client_order_id,
        defaults={
            "owner": owner,
            "trading_mode": mode,
            "pipeline_id": pipeline_id,
            "execution_id": execution_id,
            "node_id": node_id,
            "leg": leg,
            "symbol": request.symbol,
            "side": request.side,
            "quantity": request.quantity,
            "order_type": request.order_type,
            "time_in_force": request.time_in_force,
            "requested_price": price4(request.entry_price),
            "limit_price": request.limit_price,
            "stop_price": price4(request.stop_loss),
            "raw": {
                "stop_loss": str(request.stop_loss),
                "take_profit": str(request.take_profit or request.target_2),
                "target_1": str(request.target_1),
                "target_2": str(request.target_2),
            },
        },
    )


def order_record_result(*, order: Order, result: OrderResult, now: datetime) -> Order:
    order.status = RESULT_STATUS.get(result.status, OrderStatus.SUBMITTED)
    order.broker_order_id = result.broker_order_id or order.broker_order_id
    order.filled_quantity = result.filled_quantity
    order.filled_avg_price = (
        price4(result.filled_price) if result.filled_price is not None else order.filled_avg_price
    )
    order.commission = result.commission
    order.slippage = price4(result.slippage)
    order.error = result.message if order.status == OrderStatus.REJECTED else ""
    order.submitted_at = order.submitted_at or now
    if order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        order.filled_at = order.filled_at or now
    order.raw = {**order.raw, "broker": result.raw} if result.raw else order.raw
    order.save()
    return order


def _result_from_order(order: Order) -> OrderResult:
    return OrderResult(
        client_order_id=order.client_order_id,
        status=order.status,
        broker_order_id=order.broker_order_id,
        filled_quantity=order.filled_quantity,
        filled_price=order.filled_avg_price,
        commission=order.commission,
        slippage=order.slippage,
        message=order.error,
    )


def order_place(
    *,
    owner: User,
    mode: str,
    executor: TradeExecutor,
    request: BracketOrderRequest,
    pipeline_id: UUID | None,
    execution_id: UUID | None,
    node_id: str,
    leg: str,
    now: datetime,
) -> tuple[Order, OrderResult]:
    """Intent row, then the executor (which looks the id up before any (re)send), then the
    outcome on the row. Calling it again for the same order never sends a second one."""
    order, created = order_intent(
        owner=owner,
        mode=mode,
        request=request,
        pipeline_id=pipeline_id,
        execution_id=execution_id,
        node_id=node_id,
        leg=leg,
    )
    if not created and order.status in FINAL_ORDER_STATUSES:
        return order, _result_from_order(order)
    try:
        result = executor.submit_bracket(request)
    except ExecutionError as error:
        order.status = OrderStatus.FAILED if not error.retryable else order.status
        order.error = str(error)
        order.save(update_fields=["status", "error", "updated_at"])
        metrics.order_sent(executor=executor, status="error")
        raise
    order = order_record_result(order=order, result=result, now=now)
    metrics.order_sent(executor=executor, status=order.status)
    return order, result


def order_broker_exit_record(
    *, position: Position, fill: OrderResult, leg: str, now: datetime
) -> Order:
    """The ledger row of an exit leg (a bracket's stop or target) that the broker filled by
    itself, as filled at `now`; the fill's client id, else one made from its broker id."""
    return Order.objects.create(
        owner_id=position.owner_id,
        trading_mode=position.trading_mode,
        client_order_id=(fill.client_order_id or f"tc-leg-{fill.broker_order_id}")[:48],
        broker_order_id=fill.broker_order_id,
        pipeline_id=position.pipeline_id,
        execution_id=position.execution_id,
        leg=leg,
        symbol=position.symbol,
        side="sell" if position.side == PositionSide.LONG else "buy",
        quantity=fill.filled_quantity,
        status=OrderStatus.FILLED,
        filled_quantity=fill.filled_quantity,
        filled_avg_price=price4(fill.filled_price),
        commission=fill.commission,
        filled_at=now,
        raw=fill.raw,
    )
