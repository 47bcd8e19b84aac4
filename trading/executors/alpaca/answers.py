"""Alpaca's order and position JSON read in our terms: working or settled, a bracket's exits, and
the OrderResult and PositionSnapshot the ledger records."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from trading.executors.base import OrderResult, PositionSnapshot

Order = dict[str, Any]  # an order as Alpaca's JSON (the client runs with raw_data=True)

ZERO = Decimal("0")
# Alpaca's statuses for an order that can still fill, be cancelled or be replaced. "held" is a
# bracket leg waiting on its entry or on its OCO sibling: still working.
WORKING = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "held",
        "partially_filled",
        "pending_cancel",
        "pending_replace",
        "pending_review",
        "calculated",
        "stopped",
        "suspended",
        "done_for_day",
    }
)
STOP_TYPES = ("stop", "stop_limit")

_MESSAGES = {
    "filled": "Filled at Alpaca.",
    "partially_filled": "Partially filled at Alpaca.",
    "rejected": "Alpaca rejected the order.",
    "canceled": "The order was cancelled at Alpaca.",
    "expired": "The order expired at Alpaca unfilled.",
    "accepted": "Accepted by Alpaca, not filled yet.",
}


def exits(orders: list[Order]) -> Iterator[tuple[Order, Order | None]]:
    """(exit order, its bracket entry), oldest first: the legs of brackets whose entry has
    filled, and stand-alone stops that close (the one close_position leaves after a partial
    close, or one the trader placed at Alpaca: it holds the shares all the same)."""
    # Alpaca lists newest first; a stable newest-first sort, walked backwards, keeps orders
    # stamped in the same instant in the order they were placed.
    newest_first = sorted(orders, key=lambda o: str(o.get("created_at") or ""), reverse=True)
    for order in reversed(newest_first):
        legs = order.get("legs") or []
        if legs:
            if as_int(order.get("filled_qty")) > 0:
                for leg in legs:
                    yield leg, order
        elif order.get("type") in STOP_TYPES and not str(
            order.get("position_intent") or ""
        ).endswith("_to_open"):
            yield order, None


def working(order: Order) -> bool:
    return order.get("status") in WORKING


def _our_status(order: Order) -> str:
    status = str(order.get("status") or "")
    filled = as_int(order.get("filled_qty"))
    if status == "filled":
        return "filled"
    if status == "rejected":
        return "rejected"
    if status == "partially_filled" or (status not in WORKING and filled > 0):
        return "partially_filled"  # includes canceled/expired after a partial fill: final
    if status in ("canceled", "expired"):
        return status
    return "accepted"


def order_result(
    order: Order, *, expected_price: Decimal | None = None, note: str = ""
) -> OrderResult:
    """The order as the ledger records it; slippage against `expected_price` when given."""
    status = _our_status(order)
    filled_quantity = as_int(order.get("filled_qty"))
    filled_price = as_decimal(order.get("filled_avg_price")) if filled_quantity else None
    slippage = ZERO
    if filled_price is not None and expected_price:
        # Per share and adverse-positive: paying more on a buy, receiving less on a sell.
        difference = filled_price - Decimal(expected_price)
        slippage = difference if order.get("side") == "buy" else -difference
    leg = {"limit": "Take-profit", "stop": "Stop-loss", "stop_limit": "Stop-loss"}.get(
        str(order.get("type"))
    )
    message = note or _MESSAGES[status]
    if order.get("parent_order_id") and leg:
        message = f"{leg} leg {_MESSAGES[status][0].lower()}{_MESSAGES[status][1:]}"
    return OrderResult(
        client_order_id=str(order.get("client_order_id") or ""),
        status=status,
        broker_order_id=str(order.get("id") or ""),
        filled_quantity=filled_quantity,
        filled_price=filled_price,
        commission=as_decimal(order.get("commission")),  # Alpaca is commission-free for stocks
        slippage=slippage,
        message=message,
        raw=order,
    )


def position_snapshot(raw: dict) -> PositionSnapshot:
    # Alpaca reports a short with a negative qty and market value; ours are sizes, side apart.
    return PositionSnapshot(
        symbol=str(raw.get("symbol")),
        side=str(raw.get("side") or "long").lower(),
        quantity=abs(as_int(raw.get("qty"))),
        average_price=as_decimal(raw.get("avg_entry_price")),
        market_value=abs(as_decimal(raw.get("market_value"))),
        unrealized_pnl=as_decimal(raw.get("unrealized_pl")),
    )


def as_decimal(value: Any) -> Decimal:
    """Alpaca's numbers come as strings; a missing or malformed one reads as zero."""
    if value is None or value == "":
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return ZERO


def as_int(value: Any) -> int:
    return int(as_decimal(value))
