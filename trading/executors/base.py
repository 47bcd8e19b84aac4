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
    """An entry order with a protective stop and one take-profit attached (a bracket).

    `take_profit` is this bracket's exit; `target_1`/`target_2` are the trade's plan. Brokers
    that manage exits (`manages_exits_at_broker`) get one bracket per target leg; for the others
    the position monitor exits at the targets and `take_profit` is the final one.
    """

    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: int
    entry_price: Decimal
    stop_loss: Decimal
    target_1: Decimal
    target_2: Decimal
    take_profit: Decimal | None = None
    leg: str = "entry"
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
    """Where orders go. One instance serves one owner in one trading mode.

    Every order-sending method is idempotent by `client_order_id`: calling it again with the same
    id never places a second order (it finds the first one and reports it).
    """

    mode: str = "VALIDATION"
    sends_orders: bool = False
    # True when the broker holds the stop and target orders (Alpaca brackets); False when the
    # position monitor exits positions from prices (simulation).
    manages_exits_at_broker: bool = False

    @abstractmethod
    def account(self) -> AccountSnapshot: ...

    @abstractmethod
    def positions(self) -> list[PositionSnapshot]: ...

    def position(self, symbol: str) -> PositionSnapshot | None:
        return next((p for p in self.positions() if p.symbol == symbol), None)

    @abstractmethod
    def submit_bracket(self, request: BracketOrderRequest) -> OrderResult: ...

    def find_order(self, client_order_id: str) -> OrderResult | None:
        """The order sent under this id, or None if the broker never received it."""
        return None

    def close_position(
        self,
        symbol: str,
        *,
        quantity: int | None,
        client_order_id: str,
        reference_price: Decimal | None = None,
    ) -> OrderResult:
        """Close `quantity` shares (all when None) at market; broker exit legs are cancelled."""
        raise ExecutionError(f"{self.mode} cannot close positions")

    def move_stop(self, symbol: str, stop_price: Decimal) -> None:
        """Move the broker-held stop of `symbol` (e.g. to breakeven after target 1)."""
        return None

    def exit_fills(self, symbol: str) -> list[OrderResult]:
        """Filled exit orders (stop and take-profit legs) the broker holds for `symbol`."""
        return []
