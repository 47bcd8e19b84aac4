"""ValidationExecutor: records the order that would be placed and sends nothing anywhere."""

from __future__ import annotations

from decimal import Decimal

from trading.executors.base import (
    AccountSnapshot,
    BracketOrderRequest,
    OrderResult,
    PositionSnapshot,
    TradeExecutor,
)

DEFAULT_INITIAL_BALANCE = Decimal("100000")


class ValidationExecutor(TradeExecutor):
    """A virtual account of `initial_balance` with no positions; orders are only recorded."""

    mode = "VALIDATION"
    sends_orders = False

    def __init__(self, *, initial_balance: Decimal = DEFAULT_INITIAL_BALANCE):
        self.initial_balance = Decimal(initial_balance)
        self.recorded: list[BracketOrderRequest] = []

    def account(self) -> AccountSnapshot:
        return AccountSnapshot(
            equity=self.initial_balance,
            cash=self.initial_balance,
            buying_power=self.initial_balance,
        )

    def positions(self) -> list[PositionSnapshot]:
        return []

    def submit_bracket(self, request: BracketOrderRequest) -> OrderResult:
        self.recorded.append(request)
        return OrderResult(
            client_order_id=request.client_order_id,
            status="validated",
            filled_quantity=0,
            message="Validation mode: the order was recorded, not sent.",
        )
