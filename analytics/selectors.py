"""Analytics reads: the scope a trader asks about (user or pipelines, mode, period) and the
closed trades, equity and costs gathered for it — through the owning apps' selectors, never
writing their rows. A scope is one trading mode, so LIVE/PAPER results are never mixed with
SIMULATION/VALIDATION ones (spec §12.4)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import (
    BigIntegerField,
    DateTimeField,
    F,
    FloatField,
    Func,
    IntegerField,
    Sum,
    Value,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import User
from analytics import metrics
from billing.selectors import ledger_entries, spend_between
from pipelines.selectors import executions_for_user, pipeline_capitals_for_user
from trading.calendar import NEW_YORK
from trading.models import CloseReason, Mode, PositionSide, TradeStatus
from trading.selectors import open_pnl_total, simulated_account_get, trades_for_user

PERIODS = {"7D": 7, "30D": 30, "90D": 90, "YTD": None, "ALL": None, "CUSTOM": None}
PERIOD_LABELS = {
    "7D": "7 days",
    "30D": "30 days",
    "90D": "90 days",
    "YTD": "Year to date",
    "ALL": "All time",
    "CUSTOM": "Custom",
}
TEST_MODES = {Mode.SIMULATION, Mode.VALIDATION}
DEFAULT_CAPITAL = Decimal("100000")
MAX_COMPARED = 5
EARLIEST_DAY = date(2000, 1, 1)  # the exchange calendar's first day

# Close reasons as the breakdown names them (spec: stop, target 1, target 2, end of day, manual,
# budget, signal exit); the ledger's own labels for the rest.
CLOSE_REASON_ORDER = [
    CloseReason.STOP_HIT,
    CloseReason.TARGET_1_HIT,
    CloseReason.TARGET_2_HIT,
    CloseReason.END_OF_DAY,
    CloseReason.MANUAL,
    CloseReason.BUDGET,
    "signal_exit",
    CloseReason.EMERGENCY_ALL,
    CloseReason.BROKER,
]
CLOSE_REASON_LABELS = {
    **dict(CloseReason.choices),
    "signal_exit": "Signal exit",
    "": "Unknown",
}


@dataclass(frozen=True)
class Scope:
    """What the trader asked about: whose trades, in which mode, over which days (their zone)."""

    user: User
    mode: str
    period: str
    first_day: date | None  # None: from the first trade ("all time")
    last_day: date
    zone: zoneinfo.ZoneInfo
    pipeline_ids: tuple = ()  # empty: every pipeline of the user (and trades without one)

    @property
    def no_real_money(self) -> bool:
        """SIMULATION and VALIDATION never reach a broker: their figures say so."""
        return self.mode in TEST_MODES

    @property
    def start(self) -> datetime | None:
        if self.first_day is None:
            return None
        return datetime.combine(self.first_day, time.min, self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min, self.zone)

    @property
    def period_label(self) -> str:
        if self.period == "CUSTOM":
            return f"{self.first_day:%d %b %Y} – {self.last_day:%d %b %Y}"
        return PERIOD_LABELS[self.period]

    def query(self, **extra) -> dict[str, str]:
        """The scope as query parameters (links, exports, htmx)."""
        params = {"period": self.period, "mode": self.mode}
        if self.period == "CUSTOM":
            params["start"] = self.first_day.isoformat()
            params["end"] = self.last_day.isoformat()
        params.update({k: v for k, v in extra.items() if v})
        return params

    def with_pipelines(self, pipeline_ids) -> Scope:
        return Scope(
            user=self.user,
            mode=self.mode,
            period=self.period,
            first_day=self.first_day,
            last_day=self.last_day,
            zone=self.zone,
            pipeline_ids=tuple(pipeline_ids),
        )


def _parse_day(value, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({name: f"{name} must be a date like 2026-01-31."}) from None


def scope_for(
    *,
    user: User,
    period: str | None = None,
    start=None,
    end=None,
    mode: str | None = None,
    pipeline_ids=(),
) -> Scope:
    """Read the scope from what a page or the API was given; bad input is a ValidationError
    naming the field. Start and end dates imply a custom period."""
    zone = account_selectors.user_zone(user)
    today = timezone.now().astimezone(zone).date()
    mode = (mode or Mode.SIMULATION).upper()
    if mode not in Mode.values:
        raise ValidationError({"mode": f"mode must be one of {', '.join(Mode.values)}."})
    period = (period or ("CUSTOM" if start or end else "30D")).upper()
    if period not in PERIODS:
        raise ValidationError({"period": f"period must be one of {', '.join(PERIODS)}."})
    first_day: date | None
    last_day = today
    if period == "CUSTOM":
        if not start:
            raise ValidationError({"start": "A custom period needs a start date."})
        first_day = _parse_day(start, "start")
        if first_day < EARLIEST_DAY:
            raise ValidationError({"start": f"start must be on or after {EARLIEST_DAY}."})
        # Days to come hold no trades yet: a period ends today at the latest.
        last_day = min(_parse_day(end, "end") if end else today, today)
        if last_day < first_day:
            raise ValidationError(
                {"end": "end must be on or after start, and start not after today."}
            )
    elif period == "YTD":
        first_day = today.replace(month=1, day=1)
    elif period == "ALL":
        first_day = None
    else:
        first_day = today - timedelta(days=PERIODS[period] - 1)
    return Scope(
        user=user,
        mode=mode,
        period=period,
        first_day=first_day,
        last_day=last_day,
        zone=zone,
        pipeline_ids=tuple(pipeline_ids),
    )


# --- Closed trades ------------------------------------------------------------------------------


def _closed_trades(scope: Scope):
    trades = trades_for_user(user=scope.user, trading_mode=scope.mode, status=TradeStatus.CLOSED)
    if scope.pipeline_ids:
        trades = trades.filter(pipeline_id__in=scope.pipeline_ids)
    return trades


def _in_period(trades, scope: Scope):
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
    from django.contrib.postgres.fields import ArrayField
    from django.db.models import BooleanField, ExpressionWrapper, Q, UUIDField

    return (
        _in_period(_closed_trades(scope), scope)
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
    from django.db import connection

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


def trades_for_table(scope: Scope, *, symbol=None, side=None, close_reason=None, pipeline_id=None):
    """The scope's closed trades, newest first, filtered for the trades table and the CSV."""
    trades = _in_period(_closed_trades(scope), scope)
    if symbol:
        trades = trades.filter(symbol=symbol.upper())
    if side:
        trades = trades.filter(side=side)
    if close_reason:
        trades = trades.filter(close_reason=close_reason)
    if pipeline_id:
        trades = trades.filter(pipeline_id=pipeline_id)
    return trades.order_by("-closed_at", "-pk")


def _realized_before(scope: Scope) -> Decimal:
    if scope.start is None:
        return Decimal("0")
    total = (
        _closed_trades(scope)
        .filter(closed_at__lt=scope.start)
        .aggregate(total=Sum("realized_pnl"))["total"]
    )
    return total or Decimal("0")


# --- Performance --------------------------------------------------------------------------------


@dataclass
class Performance:
    """Everything the analytics page, the API, the exports and the report show for a scope."""

    scope: Scope
    columns: TradeColumns
    capital: Decimal
    agent_costs: Decimal
    open_pnl: Decimal
    equity: list  # [(date, Decimal)] per business day
    trade_stats: dict
    equity_stats: dict
    breakdowns: dict
    pipeline_names: dict = field(default_factory=dict)
    exposure: float | None = None

    @property
    def book(self) -> metrics.TradeBook:
        return self.columns.book

    @property
    def has_trades(self) -> bool:
        return len(self.book) > 0

    def drawdown(self) -> list[tuple[date, float]]:
        series = metrics.drawdown_series(self.equity)
        return [(day, float(dd)) for (day, _), dd in zip(self.equity, series, strict=True)]

    def equity_per_trade(self) -> list:
        start = self.equity[0][1] if self.equity else self.capital
        return metrics.equity_by_trade(start, self.book)

    def figures(self) -> dict[str, Any]:
        """The headline figures, as the page cards, the API and the PDF all show them."""
        return {**self.trade_stats, **self.equity_stats, "exposure": self.exposure}


def _business_days(first: date, last: date) -> list[date]:
    days = np.arange(
        np.datetime64(first, "D"),
        np.datetime64(last + timedelta(days=1), "D"),
        dtype="datetime64[D]",
    )
    days = days[np.is_busday(days)]
    return [d.astype(date) for d in days]


def _capital(scope: Scope, pipelines: list[dict]) -> Decimal:
    if scope.pipeline_ids:
        return sum((p["capital"] for p in pipelines), Decimal("0")) or DEFAULT_CAPITAL
    if scope.mode in TEST_MODES:
        account = simulated_account_get(user=scope.user)
        if account is not None:
            return account.initial_balance
    return DEFAULT_CAPITAL


def performance(scope: Scope) -> Performance:
    """Gather a scope's trades, equity and costs (a fixed handful of queries whatever the number
    of trades) and compute every metric in one numpy pass per column."""
    pipelines = pipeline_capitals_for_user(user=scope.user, pipeline_ids=scope.pipeline_ids or None)
    names = {str(p["id"]): p["name"] for p in pipelines}
    capital = _capital(scope, pipelines)
    columns = closed_trade_columns(scope, [p["id"] for p in pipelines])
    book = columns.book
    balance_at_start = capital + _realized_before(scope)
    mode_runs = executions_for_user(user=scope.user).filter(trading_mode=scope.mode).values("pk")
    agent_costs = spend_between(
        owner=scope.user,
        start=scope.start,
        end=scope.end,
        pipeline_ids=scope.pipeline_ids or None,
        execution_ids=mode_runs,
    )
    today = timezone.now().astimezone(scope.zone).date()
    open_pnl = (
        open_pnl_total(
            user=scope.user, trading_mode=scope.mode, pipeline_ids=scope.pipeline_ids or None
        )
        if scope.last_day >= today
        else Decimal("0")
    )
    first_day = scope.first_day
    if first_day is None:
        first_day = columns.close_day.min().astype(date) if len(book) else scope.last_day
    # The point before the first day is the balance the period starts from, so the first
    # day's result is a return like any other.
    base_day = first_day - timedelta(days=1)
    days = [base_day, *_business_days(first_day, scope.last_day)]
    equity = metrics.equity_by_day(balance_at_start, book, days, columns.close_day, open_pnl)
    period_start = scope.start or datetime.combine(first_day, time.min, scope.zone)
    period_end = min(scope.end, timezone.now())
    return Performance(
        scope=scope,
        columns=columns,
        capital=capital,
        agent_costs=agent_costs,
        open_pnl=open_pnl,
        equity=equity,
        trade_stats=metrics.trade_statistics(book, agent_costs, capital),
        equity_stats=metrics.equity_statistics(equity),
        breakdowns=_breakdowns(columns, names),
        pipeline_names=names,
        exposure=metrics.exposure_time(book, period_start, period_end),
    )


def _breakdowns(columns: TradeColumns, names: dict[str, str]) -> dict[str, list[dict]]:
    book = columns.book
    weekdays = np.array(["", *metrics.WEEKDAYS], dtype=object)[columns.entry_weekday]
    hours = np.array([f"{h:02d}:00" for h in range(24)], dtype=object)[columns.entry_hour]
    by_pipeline = metrics.breakdown(book, book.pipeline_id)
    for row in by_pipeline:
        row["label"] = names.get(row["key"], "No pipeline (or deleted)")
    by_reason = metrics.breakdown(book, book.close_reason, order=CLOSE_REASON_ORDER)
    for row in by_reason:
        row["label"] = CLOSE_REASON_LABELS.get(row["key"], row["key"])
    return {
        "symbol": metrics.breakdown(book, book.symbol),
        "pipeline": by_pipeline,
        "weekday": metrics.breakdown(book, weekdays, order=metrics.WEEKDAYS),
        "hour": metrics.breakdown(book, hours, order=[f"{h:02d}:00" for h in range(24)]),
        "direction": metrics.breakdown(book, metrics.direction_keys(book), order=["long", "short"]),
        "close_reason": by_reason,
    }


def compare(scope: Scope, pipeline_ids) -> list[Performance]:
    """Side by side: one performance per pipeline (2–5 of the user's own), same mode and period.
    A pipeline id that is not the user's is DoesNotExist (→ 404)."""
    from pipelines.models import Pipeline

    ids = list(dict.fromkeys(str(p) for p in pipeline_ids))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise ValidationError({"ids": f"Compare 2 to {MAX_COMPARED} pipelines."})
    owned = {str(p["id"]) for p in pipeline_capitals_for_user(user=scope.user, pipeline_ids=ids)}
    if owned != set(ids):
        raise Pipeline.DoesNotExist
    return [performance(scope.with_pipelines([pid])) for pid in ids]


def pipeline_options(user: User) -> list[dict]:
    """The user's pipelines for selectors (comparison picker, trades filter)."""
    return pipeline_capitals_for_user(user=user)


def validate_pipeline_ids(user: User, raw_ids) -> list[str]:
    """Parse and check pipeline ids: a malformed id is a ValidationError, a foreign one
    DoesNotExist (the API answers 422 and 404)."""
    import uuid

    from pipelines.models import Pipeline

    ids = []
    for raw in raw_ids:
        try:
            ids.append(str(uuid.UUID(str(raw))))
        except ValueError:
            raise ValidationError({"ids": f"{raw!r} is not a pipeline id."}) from None
    owned = {str(p["id"]) for p in pipeline_capitals_for_user(user=user, pipeline_ids=ids)}
    if owned != set(ids):
        raise Pipeline.DoesNotExist
    return ids


# --- Costs --------------------------------------------------------------------------------------


def cost_breakdown(scope: Scope) -> dict[str, Any]:
    """The ledger over the scope's period grouped in PostgreSQL: per day (the trader's zone),
    per pipeline, per agent and per model — four grouped queries whatever the ledger's size."""
    from django.db.models import Count
    from django.db.models.fields.json import KT

    entries = ledger_entries(
        owner=scope.user, start=scope.start, end=scope.end, pipeline_ids=scope.pipeline_ids or None
    ).order_by()
    total = Sum("total_cost")
    per_day = list(
        entries.annotate(day=TruncDate("created_at", tzinfo=scope.zone))
        .values("day")
        .annotate(total=total, count=Count("pk"))
        .order_by("-day")
    )
    per_pipeline = list(
        entries.values("pipeline_id").annotate(total=total, count=Count("pk")).order_by("-total")
    )
    per_agent = list(
        entries.values("agent_type").annotate(total=total, count=Count("pk")).order_by("-total")
    )
    per_model = list(
        entries.exclude(metadata__model=None)
        .annotate(model=KT("metadata__model"))
        .exclude(model="")
        .values("model")
        .annotate(total=total, count=Count("pk"))
        .order_by("-total")
    )
    names = {str(p["id"]): p["name"] for p in pipeline_capitals_for_user(user=scope.user)}
    for row in per_pipeline:
        key = str(row["pipeline_id"]) if row["pipeline_id"] else ""
        row["name"] = names.get(key, "Deleted pipeline" if key else "No pipeline")
    widest = max((row["total"] for row in per_day), default=Decimal("0"))
    for row in per_day:
        row["width"] = int(row["total"] / widest * 100) if widest else 0
    return {
        "cost_total": sum((row["total"] for row in per_day), Decimal("0")),
        "per_day": per_day,
        "per_pipeline": per_pipeline,
        "per_agent": per_agent,
        "per_model": per_model,
    }
