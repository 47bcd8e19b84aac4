"""Trading reads, always scoped to their owner (another user's rows are DoesNotExist → 404)."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from accounts.models import User
from config.core.errors import Conflict
from trading.models import Order, OrderStatus, Position, PositionStatus, Trade


def positions_for_user(
    *, user: User, trading_mode: str | None = None, status: str | None = PositionStatus.OPEN
) -> QuerySet[Position]:
    positions = Position.objects.filter(owner=user).select_related("trade")
    if trading_mode:
        positions = positions.filter(trading_mode=trading_mode)
    if status:
        positions = positions.filter(status=status)
    return positions.order_by("symbol", "trading_mode")


def position_get(*, user: User, symbol: str, trading_mode: str | None = None) -> Position:
    """The open position in `symbol`; with positions in several modes the mode must be named."""
    matches = list(
        positions_for_user(user=user, trading_mode=trading_mode).filter(symbol=symbol.upper())
    )
    if not matches:
        raise Position.DoesNotExist
    if len(matches) > 1:
        modes = ", ".join(p.trading_mode for p in matches)
        raise Conflict(f"You hold {symbol.upper()} in several modes ({modes}); say which mode.")
    return matches[0]


def trades_for_user(
    *,
    user: User,
    pipeline_id=None,
    trading_mode: str | None = None,
    symbol: str | None = None,
    status: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Trade]:
    trades = Trade.objects.filter(owner=user)
    if pipeline_id:
        trades = trades.filter(pipeline_id=pipeline_id)
    if trading_mode:
        trades = trades.filter(trading_mode=trading_mode)
    if symbol:
        trades = trades.filter(symbol=symbol.upper())
    if status:
        trades = trades.filter(status=status)
    if date_from:
        trades = trades.filter(opened_at__date__gte=date_from)
    if date_to:
        trades = trades.filter(opened_at__date__lte=date_to)
    return trades.order_by("-opened_at", "-pk")


def orders_for_user(
    *,
    user: User,
    symbol: str | None = None,
    trading_mode: str | None = None,
    status: str | None = None,
    execution_id=None,
) -> QuerySet[Order]:
    orders = Order.objects.filter(owner=user)
    if symbol:
        orders = orders.filter(symbol=symbol.upper())
    if trading_mode:
        orders = orders.filter(trading_mode=trading_mode)
    if status:
        orders = orders.filter(status=status)
    if execution_id:
        orders = orders.filter(execution_id=execution_id)
    return orders.order_by("-created_at", "-pk")


def closed_trade_stats(*, user: User, trading_mode: str) -> tuple[int, object]:
    """(closed trades, cumulative realized P&L) in one mode: the mode-unlock prerequisites."""
    from django.db.models import Count, Sum

    totals = Trade.objects.filter(owner=user, trading_mode=trading_mode, status="closed").aggregate(
        count=Count("pk"), pnl=Sum("realized_pnl")
    )
    return totals["count"], totals["pnl"] or 0


def position_by_id(*, user: User, position_id: int) -> Position:
    """One of the user's positions, open or closed (another user's is DoesNotExist → 404)."""
    return positions_for_user(user=user, status=None).get(pk=position_id)


def simulated_account_get(*, user: User):
    """The user's simulated account (its starting balance is the SIMULATION capital), or None."""
    from trading.models import SimulatedAccount

    return SimulatedAccount.objects.filter(owner=user).first()


def open_pnl_total(*, user: User, trading_mode: str, pipeline_ids=None):
    """Unrealized P&L of the user's open positions in one mode, marked at their last price."""
    from decimal import Decimal

    from django.db.models import Sum

    positions = Position.objects.filter(
        owner=user, trading_mode=trading_mode, status=PositionStatus.OPEN
    )
    if pipeline_ids:
        positions = positions.filter(pipeline_id__in=pipeline_ids)
    return positions.aggregate(total=Sum("unrealized_pnl"))["total"] or Decimal("0")


def open_positions_summary(*, user: User) -> dict:
    """How many positions the user holds open, their unrealized P&L and how many are LIVE, in
    one aggregate (a page shows one page of rows but the totals of all of them)."""
    from decimal import Decimal

    from django.db.models import Count, Q, Sum

    totals = Position.objects.filter(owner=user, status=PositionStatus.OPEN).aggregate(
        count=Count("pk"),
        unrealized=Sum("unrealized_pnl"),
        live=Count("pk", filter=Q(trading_mode="LIVE")),
    )
    return {
        "count": totals["count"],
        "unrealized": totals["unrealized"] or Decimal("0"),
        "live": totals["live"],
    }


def held_symbols(*, pipeline_id) -> list[str]:
    """The sorted symbols a pipeline holds: its open positions and its simulated entries queued
    for the next open (accepted orders carrying an entry plan) — `held_symbols_sql`'s answer."""
    held = set(
        Position.objects.filter(pipeline_id=pipeline_id, status=PositionStatus.OPEN).values_list(
            "symbol", flat=True
        )
    )
    held.update(
        Order.objects.filter(
            pipeline_id=pipeline_id, status=OrderStatus.ACCEPTED, raw__has_key="entry_plan"
        ).values_list("symbol", flat=True)
    )
    return sorted(held)


def held_symbols_sql(pipeline_id_column: str) -> str:
    """SQL for a subquery, for other apps' hand-written statements: the sorted symbols a
    pipeline holds, as an array — its open positions and its simulated entries queued for the
    next open (accepted orders carrying an entry plan). `pipeline_id_column` is the outer
    statement's column with the pipeline's id (a constant in the caller's code). Its figure
    against the ORM is the signal dispatcher's (`signals.services.dispatch`)."""
    return f"""ARRAY(SELECT held.symbol FROM (
                SELECT position.symbol FROM {Position._meta.db_table} AS position
                 WHERE position.pipeline_id = {pipeline_id_column}
                   AND position.status = '{PositionStatus.OPEN}'
                UNION
                SELECT queued.symbol FROM {Order._meta.db_table} AS queued
                 WHERE queued.pipeline_id = {pipeline_id_column}
                   AND queued.status = '{OrderStatus.ACCEPTED}'
                   AND queued.raw ? 'entry_plan'
             ) AS held ORDER BY held.symbol)"""  # noqa: S608 - model names and enum values
