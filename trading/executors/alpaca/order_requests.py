"""The orders we send Alpaca, built and validated before they leave: brackets, closes and stops
at prices on Alpaca's tick."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)
from pydantic import ValidationError

from trading.executors.base import BracketOrderRequest, ExecutionError

CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")


def bracket_order(request: BracketOrderRequest) -> OrderRequest:
    """The bracket (entry, stop-loss, one take-profit) Alpaca holds for `request`."""
    if request.quantity <= 0:
        raise ExecutionError(f"Cannot order {request.quantity} shares of {request.symbol}.")
    time_in_force = (request.time_in_force or "day").lower()
    if time_in_force not in ("day", "gtc"):
        raise ExecutionError(
            f"Alpaca bracket orders are day or gtc, not {request.time_in_force!r}."
        )
    # One take-profit per bracket: this leg's target, else the plan's final one.
    take_profit = request.take_profit if request.take_profit is not None else request.target_2
    fields = {
        "symbol": request.symbol,
        "qty": request.quantity,
        "side": _side(request.side),
        "time_in_force": TimeInForce(time_in_force),
        "order_class": OrderClass.BRACKET,
        "take_profit": TakeProfitRequest(limit_price=_price(take_profit)),
        "stop_loss": StopLossRequest(stop_price=_price(request.stop_loss)),
        "client_order_id": request.client_order_id,
    }
    if request.order_type == "limit":
        limit = request.limit_price if request.limit_price is not None else request.entry_price
        return validated(LimitOrderRequest, limit_price=_price(limit), **fields)
    if request.order_type != "market":
        raise ExecutionError(f"Alpaca brackets enter at market or limit, not {request.order_type}.")
    return validated(MarketOrderRequest, **fields)


def validated(model: type[OrderRequest], **fields: Any) -> OrderRequest:
    """alpaca-py's request model, its validation errors told as an ExecutionError."""
    try:
        return model(**fields)
    except ValidationError as error:
        problems = "; ".join(e["msg"] for e in error.errors())
        raise ExecutionError(f"The order is not valid for Alpaca: {problems}") from None


def _side(side: str) -> OrderSide:
    try:
        return OrderSide(str(side).lower())
    except ValueError:
        raise ExecutionError(f"Unknown order side {side!r} (buy or sell).") from None


def tick(price: Decimal) -> Decimal:
    # Alpaca refuses sub-penny prices at or above $1 (and more than 4 decimals below it).
    return price.quantize(CENT if abs(price) >= 1 else SUB_DOLLAR_TICK, ROUND_HALF_UP)


def _price(value: Decimal | None) -> float:
    if value is None:
        raise ExecutionError("The bracket needs a stop-loss and a take-profit price.")
    return float(tick(Decimal(value)))
