"""Backtests measured by analytics: a finished backtest's closed trades and equity, read through
the backtest selectors, become the same `Performance` the Analytics page shows (every metric,
breakdown, equity and drawdown computed by `analytics.metrics`, not a second implementation),
and backtests take their place beside pipelines on the comparison."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.utils import timezone

from analytics import metrics
from analytics.selectors import (
    Performance,
    Scope,
    TradeColumns,
    is_id,
    parse_ids,
    trade_breakdowns,
)
from pipelines.backtest import selectors as backtest_selectors
from pipelines.models import Backtest, BacktestStatus
from trading.calendar import NEW_YORK

BACKTEST_MODE = "BACKTEST"
RESULT_STATUSES = (BacktestStatus.COMPLETED, BacktestStatus.CANCELLED)
RECENT_BACKTESTS = 20


@dataclass(frozen=True)
class BacktestScope(Scope):
    """A backtest's own range: history replayed, never money."""

    backtest_id: str = ""

    @property
    def no_real_money(self) -> bool:
        return True

    @property
    def period_label(self) -> str:
        return f"{self.first_day:%d %b %Y} – {self.last_day:%d %b %Y}"


def backtest_for_results(*, user, backtest_id) -> Backtest:
    """The user's backtest (DoesNotExist for another user's or a malformed id)."""
    if not is_id(backtest_id):
        raise Backtest.DoesNotExist
    return backtest_selectors.backtest_get(user=user, backtest_id=backtest_id)


def has_results(backtest: Backtest) -> bool:
    """Completed, or cancelled with a partial result written."""
    return backtest.status in RESULT_STATUSES and backtest.final_equity is not None


def _days(moments: np.ndarray, zone) -> np.ndarray:
    """UTC datetime64[us] → the calendar day in `zone` (datetime64[D])."""
    if not len(moments):
        return np.array([], dtype="datetime64[D]")
    local = pd.DatetimeIndex(moments).tz_localize("UTC").tz_convert(zone)
    return local.tz_localize(None).to_numpy().astype("datetime64[D]")


def _local_parts(moments: np.ndarray, zone) -> tuple[np.ndarray, np.ndarray]:
    """(hour, ISO weekday 1–7) of each moment in `zone`."""
    if not len(moments):
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    local = pd.DatetimeIndex(moments).tz_localize("UTC").tz_convert(zone)
    return np.asarray(local.hour, dtype=np.int64), np.asarray(local.day_of_week + 1, dtype=np.int64)


def day_zone(backtest: Backtest):
    """The zone a bar's day is read in, as the backtest wrote its daily equity: daily bars in
    their file's zone, intraday bars on the exchange's calendar."""
    if backtest.dataset.timeframe == "1d":
        try:
            return zoneinfo.ZoneInfo(backtest.dataset.source_time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return NEW_YORK
    return NEW_YORK


def _daily_equity(backtest: Backtest, zone) -> list[tuple[date, Decimal]]:
    """The backtest's marked-to-market equity at each day's last bar, after a first point of
    the starting capital the day before: daily returns, as the Performance page measures them.
    (A backtest saved before daily equity was kept falls back to its thinned series.)"""
    if backtest.daily_equity:
        daily = [
            (date.fromisoformat(day), Decimal(str(value))) for day, value in backtest.daily_equity
        ]
    else:
        series = backtest_selectors.backtest_equity_series(backtest=backtest)
        if not series:
            return []
        index = pd.DatetimeIndex([moment for moment, _ in series]).tz_convert(zone)
        values = pd.Series([value for _, value in series], index=index)
        daily = list(values.groupby(index.date).last().items())
    if not daily:
        return []
    return [(daily[0][0] - timedelta(days=1), backtest.initial_cash), *daily]


def backtest_performance(*, user, backtest: Backtest) -> Performance:
    """Every figure of the Performance page for one backtest, by analytics' own functions."""
    zone = day_zone(backtest)
    trades = backtest_selectors.backtest_closed_trades(backtest=backtest)
    book = metrics.trade_book(trades)
    # Daily bars: the weekday of the date in their file; intraday: exchange time, as live.
    hours, weekdays = _local_parts(book.opened_at, zone)
    columns = TradeColumns(
        book=book,
        close_day=_days(book.closed_at, zone),
        entry_hour=hours,
        entry_weekday=weekdays,
    )
    equity = _daily_equity(backtest, zone)
    first_day = equity[1][0] if len(equity) > 1 else date.today()
    last_day = equity[-1][0] if equity else first_day
    scope = BacktestScope(
        user=user,
        mode=BACKTEST_MODE,
        period="CUSTOM",
        first_day=first_day,
        last_day=last_day,
        zone=zone,
        pipeline_ids=(backtest.pipeline_id,),
        backtest_id=str(backtest.pk),
    )
    open_pnl = sum(
        (
            trade.net_pnl
            for trade in backtest_selectors.backtest_trades(backtest=backtest).filter(is_open=True)
        ),
        Decimal("0"),
    )
    names = {str(backtest.pipeline_id): backtest.pipeline.name}
    breakdowns = trade_breakdowns(columns, names)
    if backtest.dataset.timeframe == "1d":
        breakdowns.pop("hour")  # daily bars carry no time of day
    bars = backtest.equity
    exposure = None
    if len(bars) >= 2:
        exposure = metrics.exposure_time(
            book, *(pd.Timestamp(bars[i][0], unit="s", tz="UTC").to_pydatetime() for i in (0, -1))
        )
    return Performance(
        scope=scope,
        columns=columns,
        capital=backtest.initial_cash,
        agent_costs=Decimal("0"),
        open_pnl=open_pnl,
        equity=equity,
        trade_stats=metrics.trade_statistics(book, Decimal("0"), backtest.initial_cash),
        equity_stats=metrics.equity_statistics(equity),
        breakdowns=breakdowns,
        pipeline_names=names,
        exposure=exposure,
    )


def backtest_label(backtest: Backtest) -> tuple[str, str]:
    """How a backtest is named beside pipelines: (pipeline, symbol and when; the swept values)."""
    name = (
        f"{backtest.pipeline.name} · backtest {backtest.dataset.symbol} "
        f"{timezone.localtime(backtest.created_at):%b %d %H:%M}"
    )
    detail = ", ".join(f"{k}={v}" for k, v in (backtest.parameters or {}).items())
    return name, detail


def backtests_with_results(*, user, pipeline_id=None) -> list[Backtest]:
    """The user's most recent backtests that have results (pickers and links)."""
    backtests = backtest_selectors.backtests_for_user(user=user).filter(
        status__in=RESULT_STATUSES, final_equity__isnull=False
    )
    if pipeline_id is not None:
        backtests = backtests.filter(pipeline_id=pipeline_id)
    return list(backtests[:RECENT_BACKTESTS])


def validate_backtest_ids(*, user, raw_ids) -> list[Backtest]:
    """Parse and check backtest ids for a comparison: malformed or without results is a
    ValidationError naming the field; another user's is DoesNotExist (404)."""
    ids = list(dict.fromkeys(parse_ids(raw_ids, field="backtests", noun="backtest")))
    found = {
        str(b.pk): b for b in backtest_selectors.backtests_for_user(user=user).filter(pk__in=ids)
    }
    if set(found) != set(ids):
        raise Backtest.DoesNotExist
    backtests = [found[i] for i in ids]
    for backtest in backtests:
        if not has_results(backtest):
            raise ValidationError(
                {"backtests": f"Backtest {backtest.pk} has no results yet ({backtest.status})."}
            )
    return backtests
