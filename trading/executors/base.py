"""The executor interface agents trade through, and the value types it exchanges."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal


class ExecutionError(Exception):
    """The broker (or the simulation) refused or failed an order; the message says why."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class AccountSnapshot:
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    currency: str = "USD"


@dataclass(frozen=True)
class PositionSnapshot:
    symbol: str
    side: str  # "long" | "short"
    quantity: int
    average_price: Decimal
    market_value: Decimal = Decimal("0")
    unrealized_pnl: Decimal = Decimal("0")


@dataclass(frozen=True)
class BracketOrderRequest:
    """An entry order with a protective stop and profit targets attached."""

    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: int
    entry_price: Decimal
    stop_loss: Decimal
    target_1: Decimal
    target_2: Decimal
    order_type: str = "market"
    limit_price: Decimal | None = None
    time_in_force: str = "day"


@dataclass
class OrderResult:
    client_order_id: str
    status: str  # validated | accepted | filled | partially_filled | rejected
    broker_order_id: str = ""
    filled_quantity: int = 0
    filled_price: Decimal | None = None
    commission: Decimal = Decimal("0")
    slippage: Decimal = Decimal("0")
    message: str = ""
    raw: dict = field(default_factory=dict)


class TradeExecutor(ABC):
    """Where orders go. One instance serves one pipeline run in one trading mode."""

    mode: str = "VALIDATION"
    sends_orders: bool = False

    @abstractmethod
    def account(self) -> AccountSnapshot: ...

    @abstractmethod
    def positions(self) -> list[PositionSnapshot]: ...

    def position(self, symbol: str) -> PositionSnapshot | None:
        return next((p for p in self.positions() if p.symbol == symbol), None)

    @abstractmethod
    def submit_bracket(self, request: BracketOrderRequest) -> OrderResult: ...
