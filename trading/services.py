"""Trading writes: orders (intent first, then the broker), trades and positions, exits, the
simulated account, emergency closes and end-of-day flattening."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, tzinfo
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from uuid import UUID

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from config import metrics
from config.events import event_emit
from trading import hooks, simulation_rules
from trading.executors.base import (
    BracketOrderRequest,
    ExecutionError,
    OrderResult,
    TradeExecutor,
)
from trading.models import (
    CloseReason,
    EODAction,
    ManualIntervention,
    Mode,
    Order,
    OrderLeg,
    OrderSide,
    OrderStatus,
    Position,
    PositionSide,
    PositionStatus,
    SimulatedAccount,
    Trade,
    TradeStatus,
)

logger = logging.getLogger(__name__)

CENTS = Decimal("0.01")
PRICE = Decimal("0.0001")
FINAL_ORDER_STATUSES = {
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
    OrderStatus.EXPIRED,
    OrderStatus.VALIDATED,
    OrderStatus.FAILED,
}
RESULT_STATUS = {
    "validated": OrderStatus.VALIDATED,
    "accepted": OrderStatus.ACCEPTED,
    "new": OrderStatus.SUBMITTED,
    "pending_new": OrderStatus.SUBMITTED,
    "submitted": OrderStatus.SUBMITTED,
    "filled": OrderStatus.FILLED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "rejected": OrderStatus.REJECTED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}


def cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENTS, rounding=ROUND_HALF_UP)


def price4(value: Decimal) -> Decimal:
    return Decimal(value).quantize(PRICE, rounding=ROUND_HALF_UP)


# --- The simulated account ------------------------------------------------------------------


def simulated_account_for(*, owner: User, initial_balance: Decimal) -> SimulatedAccount:
    account, _ = SimulatedAccount.objects.get_or_create(
        owner=owner, defaults={"initial_balance": initial_balance, "cash": initial_balance}
    )
    return account


def simulated_account_reset(*, owner: User, initial_balance: Decimal) -> SimulatedAccount:
    """Start the simulated account over (only when nothing is open in simulation)."""
    from config.errors import Conflict

    if Position.objects.filter(
        owner=owner, trading_mode=Mode.SIMULATION, status=PositionStatus.OPEN
    ).exists():
        raise Conflict("Close your simulated positions before resetting the simulated account.")
    account, _ = SimulatedAccount.objects.update_or_create(
        owner=owner, defaults={"initial_balance": initial_balance, "cash": initial_balance}
    )
    return account


def _cash_move(*, owner: User, mode: str, amount: Decimal) -> None:
    if mode == Mode.SIMULATION and amount:
        SimulatedAccount.objects.filter(owner=owner).update(cash=F("cash") + cents(amount))


# --- Orders ---------------------------------------------------------------------------------


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


# --- Entries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryPlan:
    symbol: str
    side: str  # buy (long) | sell (short)
    quantity: int
    entry_price: Decimal
    stop_loss: Decimal
    target_1: Decimal
    target_2: Decimal
    order_type: str = "market"
    partial_exit_pct: int = 50
    move_stop_to_breakeven: bool = True
    monitoring: bool = True
    time_in_force: str = "day"
    exit_rules: dict = field(default_factory=dict)


@dataclass
class EntryOutcome:
    status: str  # filled | partially_filled | validated | rejected | queued | pending
    orders: list[Order] = field(default_factory=list)
    trade: Trade | None = None
    filled_quantity: int = 0
    average_price: Decimal | None = None
    commission: Decimal = Decimal("0")
    slippage: Decimal = Decimal("0")
    message: str = ""


def exit_split(quantity: int, partial_exit_pct: int) -> tuple[int, int]:
    """Shares for the target-1 leg and the target-2 leg (target 1 takes the rounding)."""
    at_target_1 = simulation_rules.target_1_split(quantity, partial_exit_pct)
    return at_target_1, quantity - at_target_1


def entry_requests(
    *, plan: EntryPlan, client_order_id: str, broker_held_exits: bool
) -> list[tuple[str, BracketOrderRequest]]:
    """One bracket per target leg when the broker holds the exits; otherwise one order whose
    exits the position monitor manages (target 1 partial, stop to breakeven, target 2)."""

    def request(leg: str, quantity: int, take_profit: Decimal, suffix: str) -> BracketOrderRequest:
        return BracketOrderRequest(
            client_order_id=f"{client_order_id}{suffix}",
            symbol=plan.symbol,
            side=plan.side,
            quantity=quantity,
            entry_price=plan.entry_price,
            stop_loss=plan.stop_loss,
            target_1=plan.target_1,
            target_2=plan.target_2,
            take_profit=take_profit,
            leg=leg,
            order_type=plan.order_type,
            limit_price=plan.entry_price if plan.order_type == "limit" else None,
            time_in_force=plan.time_in_force,
        )

    if broker_held_exits:
        at_target_1, at_target_2 = exit_split(plan.quantity, plan.partial_exit_pct)
        legs = []
        if at_target_1:
            legs.append(
                (OrderLeg.TARGET_1, request(OrderLeg.TARGET_1, at_target_1, plan.target_1, "-t1"))
            )
        if at_target_2:
            legs.append(
                (OrderLeg.TARGET_2, request(OrderLeg.TARGET_2, at_target_2, plan.target_2, "-t2"))
            )
        return legs
    return [(OrderLeg.ENTRY, request(OrderLeg.ENTRY, plan.quantity, plan.target_2, ""))]


def position_open(
    *,
    owner: User,
    mode: str,
    executor: TradeExecutor,
    plan: EntryPlan,
    client_order_id: str,
    pipeline_id: UUID | None,
    execution_id: UUID | None,
    node_id: str,
    fill_costs: dict | None = None,
    now: datetime | None = None,
) -> EntryOutcome:
    """Place the entry (one bracket, or one per target leg) and record what filled as a Trade
    and an open Position. Safe to call again after a crash: sent orders are not re-sent."""
    now = now or timezone.now()
    outcome = EntryOutcome(status="pending")
    filled_value = Decimal("0")
    for leg, request in entry_requests(
        plan=plan,
        client_order_id=client_order_id,
        broker_held_exits=executor.manages_exits_at_broker,
    ):
        order, result = order_place(
            owner=owner,
            mode=mode,
            executor=executor,
            request=request,
            pipeline_id=pipeline_id,
            execution_id=execution_id,
            node_id=node_id,
            leg=leg,
            now=now,
        )
        outcome.orders.append(order)
        if result.status in ("rejected", OrderStatus.REJECTED):
            outcome.message = result.message or "rejected"
            continue
        if result.filled_quantity and result.filled_price is not None:
            outcome.filled_quantity += result.filled_quantity
            filled_value += result.filled_price * result.filled_quantity
            outcome.commission += result.commission
            outcome.slippage += result.slippage * result.filled_quantity
    statuses = {order.status for order in outcome.orders}
    if outcome.filled_quantity:
        outcome.average_price = price4(filled_value / outcome.filled_quantity)
        outcome.status = (
            "filled" if outcome.filled_quantity >= plan.quantity else "partially_filled"
        )
        outcome.trade = _trade_open(
            owner=owner,
            mode=mode,
            plan=plan,
            outcome=outcome,
            pipeline_id=pipeline_id,
            execution_id=execution_id,
            fill_costs=fill_costs or {},
            now=now,
        )
    elif statuses == {OrderStatus.VALIDATED}:
        outcome.status = "validated"
    elif statuses <= {OrderStatus.REJECTED, OrderStatus.FAILED}:
        outcome.status = "rejected"
    elif queued := [
        o for o in outcome.orders if (o.raw.get("broker") or {}).get("queued_for_open")
    ]:
        # The simulated market is closed: the entry fills at the next open (the monitor's
        # sweep), where the trade is opened with this plan.
        outcome.status = "queued"
        outcome.message = f"Market closed: queued for the next open ({_open_label(queued[0])})."
        for order in queued:
            order.raw = {
                **order.raw,
                "entry_plan": _plan_json(plan),
                "fill_costs": fill_costs or {},
            }
            order.save(update_fields=["raw", "updated_at"])
    return outcome


def _plan_json(plan: EntryPlan) -> dict:
    return {
        key: str(value) if isinstance(value, Decimal) else value
        for key, value in asdict(plan).items()
    }


def _open_label(order: Order) -> str:
    from trading import calendar

    opens = datetime.fromisoformat(order.raw["broker"]["queued_for_open"])
    return f"{opens.astimezone(calendar.NEW_YORK):%a %d %b %H:%M} ET"


@transaction.atomic
def _trade_open(
    *,
    owner: User,
    mode: str,
    plan: EntryPlan,
    outcome: EntryOutcome,
    pipeline_id: UUID | None,
    execution_id: UUID | None,
    fill_costs: dict,
    now: datetime,
) -> Trade:
    entry_order = outcome.orders[0]
    existing = Trade.objects.filter(entry_order=entry_order).first()
    if existing is not None:  # a resumed step: the trade was recorded before the crash
        return existing
    side = PositionSide.LONG if plan.side == OrderSide.BUY else PositionSide.SHORT
    quantity = outcome.filled_quantity
    trade = Trade.objects.create(
        owner=owner,
        trading_mode=mode,
        pipeline_id=pipeline_id,
        execution_id=execution_id,
        entry_order=entry_order,
        symbol=plan.symbol,
        side=side,
        quantity=quantity,
        remaining_quantity=quantity,
        requested_entry_price=price4(plan.entry_price),
        entry_price=outcome.average_price,
        stop_loss=price4(plan.stop_loss),
        initial_stop_loss=price4(plan.stop_loss),
        target_1=price4(plan.target_1),
        target_2=price4(plan.target_2),
        commission=outcome.commission,
        entry_commission=outcome.commission,
        slippage_cost=price4(outcome.slippage),
        realized_pnl=Decimal("0"),
        monitoring_active=plan.monitoring,
        opened_at=now,
    )
    position = (
        Position.objects.select_for_update()
        .filter(owner=owner, symbol=plan.symbol, trading_mode=mode, status=PositionStatus.OPEN)
        .first()
    )
    if position is None:
        position = Position.objects.create(
            owner=owner,
            trading_mode=mode,
            symbol=plan.symbol,
            side=side,
            quantity=quantity,
            average_price=outcome.average_price,
            current_price=outcome.average_price,
            stop_loss=trade.stop_loss,
            target_1=trade.target_1,
            target_2=trade.target_2,
            move_stop_to_breakeven=plan.move_stop_to_breakeven,
            partial_exit_pct=plan.partial_exit_pct,
            fill_costs=fill_costs,
            exit_rules=plan.exit_rules,
            monitoring=plan.monitoring,
            pipeline_id=pipeline_id,
            execution_id=execution_id,
            trade=trade,
            opened_at=now,
            price_updated_at=now,
        )
    else:
        # Pyramiding: the position grows at a blended price and follows the newest plan.
        total = position.quantity + quantity
        position.average_price = price4(
            (position.average_price * position.quantity + outcome.average_price * quantity) / total
        )
        position.quantity = total
        position.stop_loss, position.target_1, position.target_2 = (
            trade.stop_loss,
            trade.target_1,
            trade.target_2,
        )
        position.target_1_hit = False
        position.trade = trade
        position.save()
    direction = 1 if side == PositionSide.LONG else -1
    if mode == Mode.SIMULATION:
        simulated_account_for(
            owner=owner, initial_balance=Decimal(str(fill_costs.get("initial_balance", "100000")))
        )
    _cash_move(
        owner=owner,
        mode=mode,
        amount=-direction * outcome.average_price * quantity - outcome.commission,
    )
    event_emit(
        event="trade_executed",
        owner_id=owner.pk,
        execution_id=execution_id,
        trade={
            "id": trade.pk,
            "symbol": trade.symbol,
            "action": plan.side.upper(),
            "quantity": quantity,
            "price": trade.entry_price,
            "mode": mode,
        },
    )
    _position_event(position)
    transaction.on_commit(lambda: hooks.trade_opened.send(sender=Trade, trade_id=trade.pk))
    return trade


# --- Exits ------------------------------------------------------------------------------------


def _position_event(position: Position) -> None:
    event_emit(
        event="position_updated",
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
        share_of_commission = cents(commission * take / quantity)
        gross = (price - trade.entry_price) * take * direction
        exited_before = trade.quantity - trade.remaining_quantity
        # The entry commission is charged cumulatively, so the parts add up to it exactly.
        share_of_entry_commission = cents(
            trade.entry_commission * (exited_before + take) / trade.quantity
        ) - cents(trade.entry_commission * exited_before / trade.quantity)
        trade.exit_price = price4(
            ((trade.exit_price or Decimal(0)) * exited_before + price * take)
            / (exited_before + take)
        )
        trade.remaining_quantity -= take
        trade.commission += share_of_commission
        exit_pnl = cents(gross - share_of_commission - share_of_entry_commission)
        trade.realized_pnl = cents(trade.realized_pnl + exit_pnl)
        realized += exit_pnl
        if partial_at_target_1 and trade.partial_exit_at is None:
            trade.partial_exit_quantity = take
            trade.partial_exit_price = price
            trade.partial_exit_at = now
        if trade.remaining_quantity == 0:
            trade.status = TradeStatus.CLOSED
            trade.closed_at = now
            trade.close_reason = reason
            trade.monitoring_active = False
            closed_trades.append(trade.pk)
        trade.save()
        left -= take
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
    _cash_move(
        owner=position.owner,
        mode=position.trading_mode,
        amount=direction * price * quantity - commission,
    )
    _position_event(position)
    if closed_trades:
        transaction.on_commit(
            lambda: hooks.trades_closed.send(sender=Trade, trade_ids=closed_trades)
        )
    return cents(realized)


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


@dataclass
class CloseResult:
    symbol: str
    trading_mode: str
    status: str  # closed | error
    quantity: int = 0
    fill_price: Decimal | None = None
    realized_pnl: Decimal = Decimal("0")
    error: str = ""


def _close_one(position: Position, executor_for, reason: str, tag: str, now) -> CloseResult:
    quantity = position.quantity
    try:
        executor = executor_for(position)
        realized = position_close_now(
            position=position,
            executor=executor,
            reason=reason,
            client_order_id=f"tc-{tag}-{position.pk}-{int(now.timestamp())}"[:48],
            now=now,
        )
    except ExecutionError as error:
        return CloseResult(position.symbol, position.trading_mode, "error", error=str(error))
    position.refresh_from_db()
    return CloseResult(
        position.symbol,
        position.trading_mode,
        "closed",
        quantity=quantity,
        fill_price=position.current_price,
        realized_pnl=realized,
    )


def position_emergency_close(
    *, owner: User, position: Position, reason: str, executor_for, now: datetime | None = None
) -> CloseResult:
    """Close one position now, stop monitoring it, and audit the intervention."""
    now = now or timezone.now()
    result = _close_one(position, executor_for, CloseReason.MANUAL, "close", now)
    ManualIntervention.objects.create(
        owner=owner,
        trading_mode=position.trading_mode,
        symbol=position.symbol,
        action="emergency_close",
        reason=reason,
        positions_affected=1 if result.status == "closed" else 0,
        metadata={
            "position_id": position.pk,
            "status": result.status,
            "quantity": result.quantity,
            "fill_price": str(result.fill_price) if result.fill_price is not None else None,
            "realized_pnl": str(result.realized_pnl),
            "error": result.error,
        },
    )
    return result


def positions_emergency_close_all(
    *, owner: User, positions: list[Position], reason: str, executor_for, now=None
) -> list[CloseResult]:
    now = now or timezone.now()
    results = [
        _close_one(position, executor_for, CloseReason.EMERGENCY_ALL, "closeall", now)
        for position in positions
    ]
    ManualIntervention.objects.create(
        owner=owner,
        action="emergency_close_all",
        reason=reason,
        positions_affected=sum(1 for r in results if r.status == "closed"),
        metadata={
            "results": [
                {
                    "symbol": r.symbol,
                    "mode": r.trading_mode,
                    "status": r.status,
                    "realized_pnl": str(r.realized_pnl),
                    "error": r.error,
                }
                for r in results
            ]
        },
    )
    return results


def pipeline_flatten(
    *,
    owner: User,
    pipeline_id: UUID,
    reason: str,
    executor_for,
    pipeline_stopped: bool = False,
    now: datetime | None = None,
    day: date | None = None,
    zone: tzinfo | None = None,
) -> EODAction:
    """End of day: close the open positions this pipeline opened and record an EODAction for
    `day` (by default today in `zone`, the pipeline's window zone, else the active zone)."""
    now = now or timezone.now()
    positions = list(
        Position.objects.filter(owner=owner, pipeline_id=pipeline_id, status=PositionStatus.OPEN)
    )
    results = [_close_one(p, executor_for, CloseReason.END_OF_DAY, "eod", now) for p in positions]
    return eod_action_record(
        owner=owner,
        pipeline_id=pipeline_id,
        now=now,
        day=day,
        zone=zone,
        positions_closed=sum(1 for r in results if r.status == "closed"),
        total_pnl=cents(sum((r.realized_pnl for r in results), Decimal("0"))),
        pipeline_stopped=pipeline_stopped,
        failed_symbols=[r.symbol for r in results if r.status == "error"],
        reason=reason,
    )


def eod_action_record(
    *,
    owner: User,
    pipeline_id: UUID,
    now: datetime,
    reason: str,
    day: date | None = None,
    zone: tzinfo | None = None,
    **outcome,
) -> EODAction:
    """Record what end-of-day handling did for a pipeline, dated `day` (default: the local date
    of `now` in `zone`, else the active zone) at the local time of `now`."""
    local = now.astimezone(zone) if zone is not None else timezone.localtime(now)
    return EODAction.objects.create(
        owner=owner,
        pipeline_id=pipeline_id,
        action_date=day or local.date(),
        action_time=local.time().replace(microsecond=0),
        reason=reason,
        **outcome,
    )


def pipeline_positions_close(
    *, owner: User, pipeline_id: UUID, reason: str, executor_for, now: datetime | None = None
) -> list[CloseResult]:
    """Close every open position this pipeline opened, now, with close reason `reason`."""
    now = now or timezone.now()
    positions = Position.objects.filter(
        owner=owner, pipeline_id=pipeline_id, status=PositionStatus.OPEN
    )
    return [_close_one(p, executor_for, reason, reason, now) for p in positions]


# --- Price updates --------------------------------------------------------------------------


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


# --- Simulated entries queued while the market was closed ---------------------------------


def queued_entries_fill(*, now: datetime, market_data) -> list[Trade]:
    """Fill the simulated entries queued outside the session, at the session's open: each
    order is locked (a concurrent sweep skips it), filled by the simulation at the opening
    price (its slippage, commission, partial fills and rejections) and its trade opened with
    the plan it was queued with, in one transaction — a crash leaves it queued, never half
    filled. Run by the position monitor's beat sweep."""
    from trading import calendar
    from trading.clock import ManualClock
    from trading.executors.simulation import SimulationExecutor

    if calendar.session_at(now) is None:
        return []
    queued = Order.objects.filter(
        trading_mode=Mode.SIMULATION, status=OrderStatus.ACCEPTED, raw__has_key="entry_plan"
    )
    opened: list[Trade] = []
    for order_id in queued.values_list("pk", flat=True):
        with transaction.atomic():
            order = (
                queued.select_for_update(skip_locked=True, of=("self",))
                .select_related("owner")
                .filter(pk=order_id)
                .first()
            )
            if order is None:
                continue  # filled meanwhile, or another sweep holds it
            opens = datetime.fromisoformat(order.raw["broker"]["queued_for_open"])
            if opens > now:
                continue
            trade = _queued_entry_fill(
                order, opens, market_data, ManualClock(opens), SimulationExecutor
            )
        if trade is not None:
            opened.append(trade)
    return opened


def _queued_entry_fill(order, opens, market_data, clock, executor_class) -> Trade | None:
    raw_plan = order.raw["entry_plan"]
    plan = EntryPlan(
        **{key: Decimal(value) if key in _PLAN_PRICES else value for key, value in raw_plan.items()}
    )
    fill_costs = order.raw.get("fill_costs") or {}
    executor = executor_class(
        owner=order.owner, mode_config=fill_costs, clock=clock, market_data=market_data
    )
    request = BracketOrderRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        entry_price=plan.entry_price,
        stop_loss=plan.stop_loss,
        target_1=plan.target_1,
        target_2=plan.target_2,
        take_profit=plan.target_2,
        leg=order.leg,
        order_type=plan.order_type,
        limit_price=order.limit_price,
        time_in_force=plan.time_in_force,
    )
    try:
        result = executor.submit_bracket(request)
    except ExecutionError as error:
        order.status, order.error = OrderStatus.FAILED, str(error)
        order.save(update_fields=["status", "error", "updated_at"])
        return None
    # Out of the queue whatever happened (a resting limit stays accepted, no longer queued).
    order.raw = {key: value for key, value in order.raw.items() if key != "entry_plan"}
    order.raw["queued_plan"] = raw_plan
    order_record_result(order=order, result=result, now=opens)
    if not (result.filled_quantity and result.filled_price is not None):
        return None
    outcome = EntryOutcome(
        status=result.status,
        orders=[order],
        filled_quantity=result.filled_quantity,
        average_price=price4(result.filled_price),
        commission=result.commission,
        slippage=result.slippage * result.filled_quantity,
    )
    return _trade_open(
        owner=order.owner,
        mode=Mode.SIMULATION,
        plan=plan,
        outcome=outcome,
        pipeline_id=order.pipeline_id,
        execution_id=order.execution_id,
        fill_costs=fill_costs,
        now=opens,
    )


_PLAN_PRICES = ("entry_price", "stop_loss", "target_1", "target_2")
