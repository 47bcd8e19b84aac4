"""Rounding and status tables the trading services share: cents, prices, final order statuses."""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal

from trading.models import (
    OrderStatus,
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
