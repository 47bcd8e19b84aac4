"""Trading pages: open positions with live P&L and emergency closes, one position with its
chart, and the trade history with filters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from config.core.ui import confirmation_page, is_confirmed
from trading import selectors, services
from trading.executors.factory import executor_for_position
from trading.forms import TradeFilterForm
from trading.hooks import pipeline_names
from trading.keyset import keyset_page
from trading.localtime import chart_epoch
from trading.marketdata.base import MarketDataError
from trading.models import Position, PositionStatus
from trading.money import signed_money
from trading.presenters import position_rows, trade_rows, upsert_since

TRADES_PER_PAGE = 50
POSITIONS_PER_PAGE = 50
CHART_BARS = 120


def user_pipelines(user) -> list[tuple[Any, str]]:
    """(id, name) of the user's pipelines in name order, asked of pipelines through a hook."""
    return list(pipeline_names(owner=user).items())


def live_position_rows(*, user, payload: dict[str, Any]) -> list[str]:
    """The position rows a `position_updated` event changed, as out-of-band swaps for the
    positions page (one query for all of them; another user's ids render nothing)."""
    from django.template.loader import render_to_string

    from trading.live_positions import changed_positions

    ids = [p.get("id") for p in changed_positions(payload)]
    ids = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    if not ids:
        return []
    rows = position_rows(
        list(selectors.positions_for_user(user=user, status=None).filter(pk__in=ids))
    )
    return [
        render_to_string("trading/positions.html#position-row", {"position": p, "oob": True})
        for p in rows
    ]


def _owned_position(request, position_id) -> Position:
    try:
        return selectors.position_by_id(user=request.user, position_id=position_id)
    except Position.DoesNotExist:
        raise Http404("No such position.") from None


def _page_query(request) -> str:
    """The query string without the page cursors, for "newer"/"older" links that keep filters."""
    query = request.GET.copy()
    for key in ("older", "newer", "page"):
        query.pop(key, None)
    return query.urlencode()


@login_required
def positions(request):
    page = keyset_page(
        selectors.positions_for_user(user=request.user),
        key_field="opened_at",
        size=POSITIONS_PER_PAGE,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
    )
    summary = selectors.open_positions_summary(user=request.user)
    context = {
        "positions": position_rows(page.rows),
        "page": page,
        "upsert_since": upsert_since(page),
        "query": _page_query(request),
        "open_count": summary["count"],
        "total_unrealized": summary["unrealized"],
        "live_count": summary["live"],
    }
    if request.htmx:
        return render(request, "trading/positions.html#positions-table", context)
    return render(request, "trading/positions.html", context)


def _epoch(moment: datetime | None) -> int | None:
    return chart_epoch(moment)


def position_chart(position: Position, *, now: datetime | None = None) -> dict[str, Any] | None:
    """5-minute bars up to now with the position's levels and fills drawn on them."""
    from trading.marketdata.registry import market_data_provider

    now = now or timezone.now()
    try:
        bars = market_data_provider().bars(position.symbol, "5m", end=now, limit=CHART_BARS)
    except (MarketDataError, ValueError):
        return None
    candles = [
        [chart_epoch(stamp.to_pydatetime()), row.open, row.high, row.low, row.close]
        for stamp, row in bars.iterrows()
    ]
    if not candles:
        return None
    levels = [{"price": float(position.average_price), "title": "Entry", "kind": "entry"}]
    for price, title, kind in (
        (position.stop_loss, "Stop", "stop"),
        (position.target_1, "Target 1", "target"),
        (position.target_2, "Target 2", "target"),
    ):
        if price is not None:
            levels.append({"price": float(price), "title": title, "kind": kind})
    markers = []
    trade = position.trade
    buy_side = position.side == "long"
    if trade is not None:
        verb = "Buy" if buy_side else "Sell"
        markers.append(
            {
                "at": _epoch(trade.opened_at),
                "buy": buy_side,
                "text": f"{verb} {trade.quantity} @ {trade.entry_price:.2f}",
            }
        )
        if trade.partial_exit_at and trade.partial_exit_price:
            markers.append(
                {
                    "at": _epoch(trade.partial_exit_at),
                    "buy": not buy_side,
                    "text": f"T1 {trade.partial_exit_quantity} @ {trade.partial_exit_price:.2f}",
                }
            )
        if trade.closed_at and trade.exit_price:
            markers.append(
                {
                    "at": _epoch(trade.closed_at),
                    "buy": not buy_side,
                    "text": f"Exit @ {trade.exit_price:.2f}",
                }
            )
    return {
        "symbol": position.symbol,
        "timeframes": ["5m"],
        "default": "5m",
        "candles": {"5m": candles},
        "levels": levels,
        "markers": markers,
    }


@login_required
def position_detail(request, position_id):
    position = _owned_position(request, position_id)
    position_rows([position])
    chart = position_chart(position)
    context = {"position": position, "trade": position.trade, "charts": [chart] if chart else []}
    return render(request, "trading/position.html", context)


def _close_consequences(position: Position) -> list[str]:
    verb = "sells" if position.side == "long" else "buys back"
    return [
        f"A market order {verb} {position.quantity} {position.symbol} now, at whatever the "
        "market pays.",
        "Monitoring stops: its stop loss and targets no longer apply.",
        f"Mode {position.trading_mode}"
        + (
            " — a real order at your broker."
            if position.trading_mode == "LIVE"
            else " — no real money."
        ),
    ]


@login_required
def position_close(request, position_id):
    """Emergency close of one position (§10.2): market order now, monitoring stops."""
    position = _owned_position(request, position_id)
    if position.status != PositionStatus.OPEN:
        messages.info(request, f"{position.symbol} is already closed.")
        return redirect("trading:positions")
    if not is_confirmed(request):
        return confirmation_page(
            request,
            title=f"Close {position.symbol} now?",
            message=f"Emergency close of your {position.get_side_display().lower()} "
            f"{position.symbol} position ({position.quantity} shares).",
            consequences=_close_consequences(position),
            button=f"Close {position.symbol} at market",
            cancel_url=reverse("trading:positions"),
        )
    result = services.position_emergency_close(
        owner=request.user,
        position=position,
        reason="Emergency close from the positions page",
        executor_for=executor_for_position,
    )
    if result.status == "closed":
        messages.success(
            request,
            f"{result.symbol} closed: {result.quantity} shares at {result.fill_price:.2f}, "
            f"realized P&L {signed_money(result.realized_pnl)} (net of commissions).",
        )
    else:
        messages.error(request, f"{result.symbol} could not be closed: {result.error}")
    return redirect("trading:positions")


@login_required
def positions_close_all(request):
    """Emergency close of every open position, after confirmation."""
    open_positions = list(selectors.positions_for_user(user=request.user))
    if not open_positions:
        messages.info(request, "You have no open positions.")
        return redirect("trading:positions")
    if not is_confirmed(request):
        return confirmation_page(
            request,
            title=f"Close all {len(open_positions)} positions now?",
            message="Every open position is closed with a market order at once.",
            consequences=[
                "Market orders go out now for: "
                + ", ".join(f"{p.symbol} ({p.trading_mode})" for p in open_positions)
                + ".",
                "Monitoring stops for all of them: stops and targets no longer apply.",
                "Pipelines keep their status; pause or stop them to prevent new trades.",
            ],
            button="Close all at market",
            cancel_url=reverse("trading:positions"),
        )
    results = services.positions_emergency_close_all(
        owner=request.user,
        positions=open_positions,
        reason="Close-all from the positions page",
        executor_for=executor_for_position,
    )
    closed = [r for r in results if r.status == "closed"]
    failed = [r for r in results if r.status != "closed"]
    if closed:
        total = sum((r.realized_pnl for r in closed), Decimal("0"))
        messages.success(
            request,
            f"Closed {len(closed)} position(s); realized P&L {signed_money(total)} "
            "(net of commissions).",
        )
    for result in failed:
        messages.error(request, f"{result.symbol} could not be closed: {result.error}")
    return redirect("trading:positions")


@login_required
def trades(request):
    pipelines = user_pipelines(request.user)
    form = TradeFilterForm(request.GET or None, pipelines=pipelines)
    filters = form.filters() if request.GET else {}
    rows = selectors.trades_for_user(user=request.user, **filters)
    totals = rows.order_by().aggregate(count=Count("pk"), realized=Sum("realized_pnl"))
    page = keyset_page(
        rows,
        key_field="opened_at",
        size=TRADES_PER_PAGE,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
    )
    context = {
        "form": form,
        "page": page,
        "trades": trade_rows(page.rows, names=dict(pipelines)),
        "totals": totals,
        "filtered": any(value for value in filters.values()),
        "query": _page_query(request),
    }
    if request.htmx:
        return render(request, "trading/trades.html#trades-table", context)
    return render(request, "trading/trades.html", context)
