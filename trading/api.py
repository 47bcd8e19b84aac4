"""Trading API: positions, emergency closes, trades and orders (always the caller's own)."""

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from config.core.pagination import LimitOffsetPagination
from trading import selectors, services
from trading.executors.factory import executor_for_position
from trading.models import Mode, OrderStatus, PositionStatus, TradeStatus

positions_router = Router(tags=["positions"])
trades_router = Router(tags=["trades"])
orders_router = Router(tags=["orders"])


class PositionOut(Schema):
    id: int
    symbol: str
    trading_mode: str
    side: str
    quantity: int
    average_price: Decimal
    current_price: Decimal | None
    unrealized_pnl: Decimal
    stop_loss: Decimal | None
    target_1: Decimal | None
    target_2: Decimal | None
    target_1_hit: bool
    monitoring: bool
    status: str
    pipeline_id: UUID | None
    execution_id: UUID | None
    opened_at: datetime
    closed_at: datetime | None


class TradeOut(Schema):
    id: int
    symbol: str
    trading_mode: str
    side: str
    quantity: int
    remaining_quantity: int
    entry_price: Decimal
    requested_entry_price: Decimal
    stop_loss: Decimal
    initial_stop_loss: Decimal
    target_1: Decimal
    target_2: Decimal
    partial_exit_quantity: int
    partial_exit_price: Decimal | None
    exit_price: Decimal | None
    close_reason: str
    status: str
    realized_pnl: Decimal | None = Field(
        None,
        description="Net of the entry and exit commissions, for the shares exited so far; "
        "null while nothing is exited (an open trade has realized nothing).",
    )
    commission: Decimal
    slippage_cost: Decimal
    pipeline_id: UUID | None
    execution_id: UUID | None
    opened_at: datetime
    closed_at: datetime | None

    @staticmethod
    def resolve_realized_pnl(obj):
        return None if obj.remaining_quantity == obj.quantity else obj.realized_pnl


class PositionDetailOut(PositionOut):
    monitoring_active: bool = Field(..., alias="monitoring")
    trades: list[TradeOut]

    @staticmethod
    def resolve_trades(obj):
        return list(
            selectors.trades_for_user(
                user=obj.owner, symbol=obj.symbol, trading_mode=obj.trading_mode
            ).filter(status=TradeStatus.OPEN)
        )


class OrderOut(Schema):
    id: int
    client_order_id: str
    broker_order_id: str
    trading_mode: str
    symbol: str
    side: str
    leg: str
    quantity: int
    order_type: str
    requested_price: Decimal | None
    stop_price: Decimal | None
    status: str
    filled_quantity: int
    filled_avg_price: Decimal | None
    commission: Decimal
    slippage: Decimal
    error: str
    pipeline_id: UUID | None
    execution_id: UUID | None
    created_at: datetime
    filled_at: datetime | None


class CloseIn(Schema):
    confirm: bool = Field(False, description="Must be true: closing sells at market now.")
    reason: str = Field("Manual emergency close", max_length=500)
    trading_mode: Mode | None = None


class CloseOut(Schema):
    status: str
    symbol: str
    trading_mode: str
    quantity: int
    fill_price: Decimal | None
    realized_pnl: Decimal
    error: str
    closed_at: datetime | None = None


def _require_confirm(payload: CloseIn) -> None:
    if not payload.confirm:
        raise ValidationError(
            {"confirm": "Emergency closes sell at market now: send confirm: true."}
        )


@positions_router.get("", response=list[PositionOut], summary="Your open positions, by symbol")
@paginate(LimitOffsetPagination)
def positions_list(
    request: HttpRequest, trading_mode: Mode | None = None, status: PositionStatus = "open"
):
    positions = selectors.positions_for_user(
        user=request.auth, trading_mode=trading_mode, status=status
    )
    return positions.order_by("symbol", "trading_mode", "id")  # closed ones repeat a symbol


@positions_router.post(
    "/close-all",
    response=list[CloseOut],
    summary="Close ALL open positions at market now (confirm: true required)",
)
def positions_close_all(request: HttpRequest, payload: CloseIn):
    _require_confirm(payload)
    positions = list(
        selectors.positions_for_user(user=request.auth, trading_mode=payload.trading_mode)
    )
    results = services.positions_emergency_close_all(
        owner=request.auth,
        positions=positions,
        reason=payload.reason,
        executor_for=executor_for_position,
    )
    return [r.__dict__ for r in results]


@positions_router.get("/{symbol}", response=PositionDetailOut, summary="One open position")
def positions_get(request: HttpRequest, symbol: str, trading_mode: Mode | None = None):
    return selectors.position_get(user=request.auth, symbol=symbol, trading_mode=trading_mode)


@positions_router.post(
    "/{symbol}/close",
    response=CloseOut,
    summary="Close one position at market now and stop monitoring it (confirm: true required)",
)
def positions_close(request: HttpRequest, symbol: str, payload: CloseIn):
    _require_confirm(payload)
    position = selectors.position_get(
        user=request.auth, symbol=symbol, trading_mode=payload.trading_mode
    )
    result = services.position_emergency_close(
        owner=request.auth,
        position=position,
        reason=payload.reason,
        executor_for=executor_for_position,
    )
    position.refresh_from_db()
    return {**result.__dict__, "closed_at": position.closed_at}


class TradeFilters(Schema):
    pipeline_id: UUID | None = None
    trading_mode: Mode | None = None
    symbol: str | None = Field(None, max_length=12)
    status: TradeStatus | None = None
    date_from: date | None = None
    date_to: date | None = None


@trades_router.get("", response=list[TradeOut], summary="Your trades, newest first")
@paginate(LimitOffsetPagination)
def trades_list(request: HttpRequest, filters: Query[TradeFilters]):
    return selectors.trades_for_user(user=request.auth, **filters.dict())


class OrderFilters(Schema):
    symbol: str | None = Field(None, max_length=12)
    trading_mode: Mode | None = None
    status: OrderStatus | None = None
    execution_id: UUID | None = None


@orders_router.get("", response=list[OrderOut], summary="Your orders, newest first")
@paginate(LimitOffsetPagination)
def orders_list(request: HttpRequest, filters: Query[OrderFilters]):
    return selectors.orders_for_user(user=request.auth, **filters.dict())
