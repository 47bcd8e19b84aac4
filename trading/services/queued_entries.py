"""Simulated entries queued while the market was closed, filled at the next open."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from trading.executors.base import (
    BracketOrderRequest,
    ExecutionError,
)
from trading.models import (
    Mode,
    Order,
    OrderStatus,
    Trade,
)
from trading.services.amounts import price4
from trading.services.orders import order_record_result
from trading.services.trades import EntryOutcome, EntryPlan, _trade_open

logger = logging.getLogger(__name__)


# --- Simulated entries queued while the market was closed -------------------------------------
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
