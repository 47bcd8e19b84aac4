"""The closed trades of a scope, read through trading's selectors: as numpy columns for the
metrics (one query, every value scaled and keyed by PostgreSQL), as rows for the trades table
and the CSV, and the P&L realized before the period starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    Sum,
    UUIDField,
    Value,
)
from django.db.models.functions import Cast

from analytics import metrics
from analytics.selectors.ids import is_id
from analytics.selectors.scope import Scope
from trading.calendar import NEW_YORK
from trading.models import PositionSide, TradeStatus
from trading.selectors import trades_for_user


def closed_trades(scope: Scope):
    """The scope's closed trades in its mode and pipelines, of any day."""
    trades = trades_for_user(user=scope.user, trading_mode=scope.mode, status=TradeStatus.CLOSED)
    if scope.pipeline_ids:
        trades = trades.filter(pipeline_id__in=scope.pipeline_ids)
    return trades


def in_period(trades, scope: Scope):
    """Those of `trades` closed within the scope's days."""
    if scope.start is not None:
        trades = trades.filter(closed_at__gte=scope.start)
    return trades.filter(closed_at__lt=scope.end)


def _units(name: str):
    return Cast(F(name) * metrics.MONEY_SCALE, BigIntegerField())


def _epoch_us(name: str):
    # date_part's double precision, not EXTRACT's numeric: half the query's cost at 10,000
    # trades (bench/bench_analytics.py), and exact to the microsecond for any date before 2255.
    return Cast(
        Func(
            F(name),
            template="date_part('epoch', %(expressions)s) * 1000000",
            output_field=FloatField(),
        ),
        BigIntegerField(),
    )


def _local_time(name: str, zone):
    # PostgreSQL's timezone(zone, timestamptz): the wall-clock time in that zone.
    return Func(Value(zone.key), F(name), function="timezone", output_field=DateTimeField())


def _local_day_number(name: str, zone):
    # Days since 1970-01-01 of the local calendar day: a plain integer numpy takes as is.
    return Func(
        _local_time(name, zone),
        template="(%(expressions)s::date - DATE '1970-01-01')",
        output_field=IntegerField(),
    )


def _local_part(part: str, name: str, zone):
    # date_part (double precision) rather than EXTRACT (numeric): cheaper per row.
    return Func(
        _local_time(name, zone),
        template=f"date_part('{part}', %(expressions)s)::int",
        output_field=IntegerField(),
    )


TRADE_COLUMNS = (
    "symbol",
    "is_long",
    "close_reason",
    "pipeline_number",
    "net_units",
    "commission_units",
    "slippage_units",
    "opened_us",
    "closed_us",
    "close_day",
    "entry_hour",
    "entry_weekday",
)


@dataclass
class TradeColumns:
    """The closed trades of a scope as numpy columns, plus the keys the breakdowns group on."""

    book: metrics.TradeBook
    close_day: np.ndarray  # datetime64[D], the trader's calendar day of the close
    entry_hour: np.ndarray  # int, hour of entry in exchange time (New York)
    entry_weekday: np.ndarray  # int, 1 = Monday … 7, exchange time


def closed_trade_rows(scope: Scope, known: list):
    """Every closed trade of the scope as TRADE_COLUMNS (a values_list query): money scaled to
    integers, times as epoch microseconds and the breakdown keys computed by PostgreSQL."""
    return (
        in_period(closed_trades(scope), scope)
        .order_by("closed_at", "pk")
        .annotate(
            net_units=_units("realized_pnl"),
            commission_units=_units("commission"),
            slippage_units=_units("slippage_cost"),
            opened_us=_epoch_us("opened_at"),
            closed_us=_epoch_us("closed_at"),
            close_day=_local_day_number("closed_at", scope.zone),
            entry_hour=_local_part("hour", "opened_at", NEW_YORK),
            entry_weekday=_local_part("isodow", "opened_at", NEW_YORK),
            is_long=ExpressionWrapper(Q(side=PositionSide.LONG), output_field=BooleanField()),
            # The pipeline as its place in `known` (1-based; NULL when none or deleted): a small
            # int per row instead of a 36-character UUID to parse.
            pipeline_number=Func(
                Value(known, output_field=ArrayField(UUIDField())),
                F("pipeline_id"),
                function="array_position",
                output_field=IntegerField(),
            ),
        )
        .values_list(*TRADE_COLUMNS)
    )


def closed_trade_columns(scope: Scope, pipeline_ids=None) -> TradeColumns:
    """One query (`closed_trade_rows`). The ORM writes the SQL; its rows are read straight off
    the cursor because every column is already a plain int, float or str. bench/
    bench_analytics.py, 10,000 trades, 20 reads each, back to back (2026-12-02, load average
    6.3 on 2 cores): off the cursor p50 44.0 ms; through the queryset (Django's per-row
    converters) p50 84.2 ms."""
    known = list(pipeline_ids if pipeline_ids is not None else scope.pipeline_ids)
    queryset = closed_trade_rows(scope, known)
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(TRADE_COLUMNS)
    col = dict(zip(TRADE_COLUMNS, columns, strict=True))
    book = metrics.trade_book_from_columns(
        net_units=col["net_units"],
        commission_units=col["commission_units"],
        slippage_units=col["slippage_units"],
        opened_at_us=col["opened_us"],
        closed_at_us=col["closed_us"],
        is_long=col["is_long"],
        # Sizes and prices are no metric's input: the page reads them from the trades table.
        quantity=np.zeros(len(rows), dtype=np.int64),
        entry_price=np.zeros(len(rows), dtype=np.float64),
        symbol=col["symbol"],
        close_reason=col["close_reason"],
        pipeline_id=np.array(["", *map(str, known)], dtype=object)[
            np.array([n or 0 for n in col["pipeline_number"]], dtype=np.int64)
        ],
    )
    return TradeColumns(
        book=book,
        close_day=np.asarray(col["close_day"], dtype=np.int64).astype("datetime64[D]"),
        entry_hour=np.asarray(col["entry_hour"], dtype=np.int64),
        entry_weekday=np.asarray(col["entry_weekday"], dtype=np.int64),
    )


def trades_for_table(scope: Scope, filters: Mapping[str, str] | None = None):
    """The scope's closed trades, newest first, filtered for the trades table and the CSV by
    symbol, side, close reason and pipeline (a pipeline filter that is not an id is ignored)."""
    filters = filters or {}
    symbol, side = filters.get("symbol"), filters.get("side")
    close_reason, pipeline_id = filters.get("close_reason"), filters.get("pipeline_id")
    trades = in_period(closed_trades(scope), scope)
    if symbol:
        trades = trades.filter(symbol=symbol.upper())
    if side:
        trades = trades.filter(side=side)
    if close_reason:
        trades = trades.filter(close_reason=close_reason)
    if pipeline_id and is_id(pipeline_id):
        trades = trades.filter(pipeline_id=pipeline_id)
    return trades.order_by("-closed_at", "-pk")


def realized_before(scope: Scope) -> Decimal:
    """P&L of the scope's trades closed before its first day (already in the balance)."""
    if scope.start is None:
        return Decimal("0")
    total = (
        closed_trades(scope)
        .filter(closed_at__lt=scope.start)
        .aggregate(total=Sum("realized_pnl"))["total"]
    )
    return total or Decimal("0")
