"""Positions: partial exits, closing one now, marking it to the market and moving its stop."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from trading import hooks, live_positions
from trading.executors.base import (
    BracketOrderRequest,
    ExecutionError,
    TradeExecutor,
)
from trading.models import (
    OrderLeg,
    OrderSide,
    OrderStatus,
    Position,
    PositionSide,
    PositionStatus,
    Trade,
    TradeStatus,
)
from trading.services.amounts import FINAL_ORDER_STATUSES, cents, price4
from trading.services.cash import _cash_move
from trading.services.orders import order_intent, order_record_result

logger = logging.getLogger(__name__)


# --- Exits ------------------------------------------------------------------------------------
def _position_event(position: Position) -> None:
    # Sent at once, or coalesced per user while the position monitor sweeps (live_positions).
    live_positions.position_event_send(
        owner_id=position.owner_id,
        position={
            "id": position.pk,
            "symbol": position.symbol,
            "mode": position.trading_mode,
            "side": position.side,
            "quantity": position.quantity,
            "status": position.status,
            "average_price": position.average_price,
            "current_price": position.current_price,
            "unrealized_pnl": position.unrealized_pnl,
            "stop_loss": position.stop_loss,
            "target_1": position.target_1,
            "target_2": position.target_2,
        },
    )


def unrealized_pnl(position: Position, price: Decimal) -> Decimal:
    direction = 1 if position.side == PositionSide.LONG else -1
    return cents((price - position.average_price) * position.quantity * direction)


@transaction.atomic
def position_reduce(
    *,
    position: Position,
    quantity: int,
    price: Decimal,
    commission: Decimal,
    reason: str,
    now: datetime,
    partial_at_target_1: bool = False,
) -> Decimal:
    """Record an exit of `quantity` shares at `price`; trades are closed first-in, first-out.

    Returns the realized P&L of this exit, by the one definition every page, message, API and
    notification uses: for each trade, (exit − entry) × shares × direction, less the exit
    commission and the exited shares' part of the entry commission. It equals the change of
    the trades' `realized_pnl`, so "AAPL closed: −$19.96" matches the trade history."""
    position = Position.objects.select_for_update().get(pk=position.pk)
    quantity = min(quantity, position.quantity)
    if quantity <= 0 or position.status != PositionStatus.OPEN:
        return Decimal("0")
    price = price4(price)
    direction = 1 if position.side == PositionSide.LONG else -1
    realized = Decimal("0")
    left = quantity
    closed_trades = []
    open_trades = (
        Trade.objects.select_for_update()
        .filter(
            owner_id=position.owner_id,
            symbol=position.symbol,
            trading_mode=position.trading_mode,
            status=TradeStatus.OPEN,
        )
        .order_by("opened_at", "pk")
    )
    for trade in open_trades:
        if left == 0:
            break
        take = min(left, trade.remaining_quantity)
        realized += _trade_exit(
            trade,
            take=take,
            price=price,
            commission=cents(commission * take / quantity),
            direction=direction,
            reason=reason,
            now=now,
            partial_at_target_1=partial_at_target_1,
        )
        if trade.status == TradeStatus.CLOSED:
            closed_trades.append(trade.pk)
        left -= take
    _position_shrink(position, quantity=quantity, price=price, now=now)
    _cash_move(
        owner=position.owner_id,  # the id: loading the user cost the monitor a query per exit
        mode=position.trading_mode,
        amount=direction * price * quantity - commission,
    )
    _position_event(position)
    if closed_trades:
        transaction.on_commit(
            lambda: hooks.trades_closed.send(sender=Trade, trade_ids=closed_trades)
        )
    return cents(realized)


def _trade_exit(
    trade: Trade,
    *,
    take: int,
    price: Decimal,
    commission: Decimal,
    direction: int,
    reason: str,
    now: datetime,
    partial_at_target_1: bool,
) -> Decimal:
    """Exit `take` of the trade's shares at `price`, paying `commission` (its share of the
    exit's); save it, closed when nothing remains. Returns the exit's realized P&L."""
    gross = (price - trade.entry_price) * take * direction
    exited_before = trade.quantity - trade.remaining_quantity
    # The entry commission is charged cumulatively, so the parts add up to it exactly.
    share_of_entry_commission = cents(
        trade.entry_commission * (exited_before + take) / trade.quantity
    ) - cents(trade.entry_commission * exited_before / trade.quantity)
    trade.exit_price = price4(
        ((trade.exit_price or Decimal(0)) * exited_before + price * take) / (exited_before + take)
    )
    trade.remaining_quantity -= take
    trade.commission += commission
    exit_pnl = cents(gross - commission - share_of_entry_commission)
    trade.realized_pnl = cents(trade.realized_pnl + exit_pnl)
    if partial_at_target_1 and trade.partial_exit_at is None:
        trade.partial_exit_quantity = take
        trade.partial_exit_price = price
        trade.partial_exit_at = now
    if trade.remaining_quantity == 0:
        trade.status = TradeStatus.CLOSED
        trade.closed_at = now
        trade.close_reason = reason
        trade.monitoring_active = False
    trade.save()
    return exit_pnl


def _position_shrink(position: Position, *, quantity: int, price: Decimal, now: datetime) -> None:
    """Take `quantity` shares off the position at `price`; closed when none are left."""
    position.quantity -= quantity
    position.current_price = price
    position.price_updated_at = now
    if position.quantity == 0:
        position.status = PositionStatus.CLOSED
        position.closed_at = now
        position.monitoring = False
        position.unrealized_pnl = Decimal("0")
    else:
        position.unrealized_pnl = unrealized_pnl(position, price)
    position.save()


def position_close_now(
    *,
    position: Position,
    executor: TradeExecutor,
    reason: str,
    client_order_id: str,
    reference_price: Decimal | None = None,
    now: datetime | None = None,
) -> Decimal:
    """Close what is left of a position at market through the executor; returns realized P&L."""
    now = now or timezone.now()
    Position.objects.filter(pk=position.pk).update(monitoring=False)
    request = BracketOrderRequest(
        client_order_id=client_order_id,
        symbol=position.symbol,
        side=OrderSide.SELL if position.side == PositionSide.LONG else OrderSide.BUY,
        quantity=position.quantity,
        entry_price=reference_price or position.current_price or position.average_price,
        stop_loss=Decimal("0"),
        target_1=Decimal("0"),
        target_2=Decimal("0"),
    )
    order, created = order_intent(
        owner=position.owner,
        mode=position.trading_mode,
        request=request,
        pipeline_id=position.pipeline_id,
        execution_id=position.execution_id,
        node_id="",
        leg=OrderLeg.EXIT,
    )
    if created or order.status not in FINAL_ORDER_STATUSES:
        result = executor.close_position(
            position.symbol,
            quantity=position.quantity,
            client_order_id=client_order_id,
            reference_price=reference_price,
        )
        order = order_record_result(order=order, result=result, now=now)
    if order.status == OrderStatus.REJECTED or not order.filled_quantity:
        Position.objects.filter(pk=position.pk).update(monitoring=True)
        raise ExecutionError(f"{position.symbol}: the close order was not filled ({order.error}).")
    return position_reduce(
        position=position,
        quantity=order.filled_quantity,
        price=order.filled_avg_price,
        commission=order.commission,
        reason=reason,
        now=now,
    )


# --- Price updates ----------------------------------------------------------------------------
def position_mark(*, position: Position, price: Decimal, now: datetime) -> bool:
    """Update the current price and unrealized P&L; True when something visible changed."""
    price = price4(price)
    pnl = unrealized_pnl(position, price)
    changed = price != position.current_price or pnl != position.unrealized_pnl
    Position.objects.filter(pk=position.pk, status=PositionStatus.OPEN).update(
        current_price=price, unrealized_pnl=pnl, price_updated_at=now
    )
    position.current_price, position.unrealized_pnl, position.price_updated_at = price, pnl, now
    if changed:
        _position_event(position)
    return changed


def position_move_stop(*, position: Position, stop_loss: Decimal) -> None:
    Position.objects.filter(pk=position.pk).update(stop_loss=price4(stop_loss))
    Trade.objects.filter(
        owner_id=position.owner_id,
        symbol=position.symbol,
        trading_mode=position.trading_mode,
        status=TradeStatus.OPEN,
    ).update(stop_loss=price4(stop_loss))
    position.stop_loss = price4(stop_loss)


def whole_shares(value: Decimal) -> int:
    return int(Decimal(value).to_integral_value(ROUND_DOWN))
