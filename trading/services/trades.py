"""Entries: planning a bracket entry, opening the position and the trade it belongs to."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.core.events import event_emit
from trading import hooks, simulation_rules
from trading.executors.base import (
    BracketOrderRequest,
    TradeExecutor,
)
from trading.models import (
    Mode,
    Order,
    OrderLeg,
    OrderSide,
    OrderStatus,
    Position,
    PositionSide,
    PositionStatus,
    Trade,
)
from trading.services.amounts import price4
from trading.services.cash import _cash_move, simulated_account_for
from trading.services.orders import order_place
from trading.services.positions import _position_event

logger = logging.getLogger(__name__)


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
    trade = _trade_record(
        owner=owner,
        mode=mode,
        plan=plan,
        outcome=outcome,
        pipeline_id=pipeline_id,
        execution_id=execution_id,
        now=now,
    )
    position = _position_add(trade=trade, plan=plan, fill_costs=fill_costs)
    direction = 1 if trade.side == PositionSide.LONG else -1
    if mode == Mode.SIMULATION:
        simulated_account_for(
            owner=owner, initial_balance=Decimal(str(fill_costs.get("initial_balance", "100000")))
        )
    _cash_move(
        owner=owner,
        mode=mode,
        amount=-direction * outcome.average_price * trade.quantity - outcome.commission,
    )
    event_emit(
        event="trade_executed",
        owner_id=owner.pk,
        execution_id=execution_id,
        trade={
            "id": trade.pk,
            "symbol": trade.symbol,
            "action": plan.side.upper(),
            "quantity": trade.quantity,
            "price": trade.entry_price,
            "mode": mode,
        },
    )
    _position_event(position)
    transaction.on_commit(lambda: hooks.trade_opened.send(sender=Trade, trade_id=trade.pk))
    return trade


def _trade_record(
    *,
    owner: User,
    mode: str,
    plan: EntryPlan,
    outcome: EntryOutcome,
    pipeline_id: UUID | None,
    execution_id: UUID | None,
    now: datetime,
) -> Trade:
    """The trade row of a filled entry: the plan's levels, the fill's price and costs."""
    quantity = outcome.filled_quantity
    return Trade.objects.create(
        owner=owner,
        trading_mode=mode,
        pipeline_id=pipeline_id,
        execution_id=execution_id,
        entry_order=outcome.orders[0],
        symbol=plan.symbol,
        side=PositionSide.LONG if plan.side == OrderSide.BUY else PositionSide.SHORT,
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


def _position_add(*, trade: Trade, plan: EntryPlan, fill_costs: dict) -> Position:
    """Open the symbol's position for the trade, or grow the open one (pyramiding)."""
    position = (
        Position.objects.select_for_update()
        .filter(
            owner=trade.owner,
            symbol=trade.symbol,
            trading_mode=trade.trading_mode,
            status=PositionStatus.OPEN,
        )
        .first()
    )
    if position is None:
        return Position.objects.create(
            owner=trade.owner,
            trading_mode=trade.trading_mode,
            symbol=trade.symbol,
            side=trade.side,
            quantity=trade.quantity,
            average_price=trade.entry_price,
            current_price=trade.entry_price,
            stop_loss=trade.stop_loss,
            target_1=trade.target_1,
            target_2=trade.target_2,
            move_stop_to_breakeven=plan.move_stop_to_breakeven,
            partial_exit_pct=plan.partial_exit_pct,
            fill_costs=fill_costs,
            exit_rules=plan.exit_rules,
            monitoring=plan.monitoring,
            pipeline_id=trade.pipeline_id,
            execution_id=trade.execution_id,
            trade=trade,
            opened_at=trade.opened_at,
            price_updated_at=trade.opened_at,
        )
    # Pyramiding: the position grows at a blended price and follows the newest plan.
    total = position.quantity + trade.quantity
    position.average_price = price4(
        (position.average_price * position.quantity + trade.entry_price * trade.quantity) / total
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
    return position
