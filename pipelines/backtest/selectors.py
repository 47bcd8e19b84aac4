"""Backtest and dataset reads, always scoped to their owner (others' rows are DoesNotExist)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from pipelines.models import Backtest, BacktestSweep, BacktestTrade
from trading.keyset import KeysetPage, keyset_page
from trading.models import Dataset

# The packed bar columns: megabytes per row, read only by the engine.
BAR_COLUMNS = ("open_seconds", "open", "high", "low", "close", "volume")
TRADES_PER_PAGE = 50


def datasets_for_user(*, user) -> QuerySet[Dataset]:
    """Newest first (the id breaks a tie, so pages never repeat or skip a row), without bars."""
    return Dataset.objects.filter(owner=user).defer(*BAR_COLUMNS).order_by("-created_at", "id")


def dataset_get(*, user, dataset_id) -> Dataset:
    """With its bars (a backtest is about to read them)."""
    return Dataset.objects.get(owner=user, pk=dataset_id)


def backtests_for_user(
    *, user, pipeline=None, pipeline_id=None, status: str | None = None
) -> QuerySet[Backtest]:
    """Newest first (the id breaks a tie, so pages never repeat or skip a row)."""
    backtests = Backtest.objects.filter(owner=user).select_related("dataset", "pipeline")
    backtests = backtests.defer(*(f"dataset__{c}" for c in BAR_COLUMNS), "equity", "daily_equity")
    if pipeline is not None:
        backtests = backtests.filter(pipeline=pipeline)
    if pipeline_id is not None:
        backtests = backtests.filter(pipeline_id=pipeline_id)
    if status is not None:
        backtests = backtests.filter(status=status)
    return backtests.order_by("-created_at", "id")


def backtest_get(*, user, backtest_id) -> Backtest:
    return (
        Backtest.objects.select_related("dataset", "pipeline")
        .defer(*(f"dataset__{c}" for c in BAR_COLUMNS))
        .get(owner=user, pk=backtest_id)
    )


def backtest_trades(*, backtest: Backtest) -> QuerySet[BacktestTrade]:
    return BacktestTrade.objects.filter(backtest=backtest).order_by("entry_bar", "id")


def backtest_trade_page(
    *,
    backtest: Backtest,
    older_than: str | None = None,
    newer_than: str | None = None,
    size: int = TRADES_PER_PAGE,
) -> KeysetPage:
    """A page of the trades in the order they were entered (entry bar, then id): the first
    trades, or those just before the `older_than` cursor or just after `newer_than`. A cursor
    that does not parse is no cursor (the first page)."""
    return keyset_page(
        backtest_trades(backtest=backtest),
        key_field="entry_bar",
        size=size,
        older_than=older_than,
        newer_than=newer_than,
        oldest_first=True,
    )


def backtest_trades_before(*, trade: BacktestTrade) -> int:
    """How many of its backtest's trades come before `trade` in the table's order."""
    earlier = Q(entry_bar__lt=trade.entry_bar) | Q(entry_bar=trade.entry_bar, pk__lt=trade.pk)
    return BacktestTrade.objects.filter(earlier, backtest_id=trade.backtest_id).count()


def backtest_trades_open_since(*, backtest: Backtest, moment: datetime) -> list[BacktestTrade]:
    """The trades still open at or after `moment` (those a chart starting there draws), in the
    order they were entered, without their reasoning."""
    rows = backtest_trades(backtest=backtest).defer("reasoning")
    return list(rows.filter(Q(exit_at__isnull=True) | Q(exit_at__gte=moment)))


def sweep_get(*, user, sweep_id) -> BacktestSweep:
    return BacktestSweep.objects.get(owner=user, pk=sweep_id)


def sweep_rows(*, sweep: BacktestSweep) -> list[Backtest]:
    return list(
        sweep.backtests.defer("equity", "daily_equity", "graph").order_by(
            "-final_equity", "created_at"
        )
    )


def backtest_closed_trades(*, backtest: Backtest) -> list[dict]:
    """The closed trades as analytics reads any trade (analytics.metrics.trade_book takes
    mappings with these keys), so a backtest is measured by the same code as live trading."""
    rows = backtest_trades(backtest=backtest).filter(is_open=False)
    return [
        {
            "symbol": row.symbol,
            "side": row.side,
            "quantity": row.quantity,
            "entry_price": row.entry_price,
            "net_pnl": row.net_pnl,
            "opened_at": row.entry_at,
            "closed_at": row.exit_at,
            "commission": row.commission,
            "close_reason": row.close_reason,
            "pipeline_id": str(backtest.pipeline_id),
            "trade_id": str(row.pk),
        }
        for row in rows
    ]


def backtest_equity_series(*, backtest: Backtest) -> list[tuple]:
    """[(datetime, Decimal equity), …], oldest first: analytics' equity-series shape."""
    from datetime import UTC, datetime
    from decimal import Decimal

    return [
        (datetime.fromtimestamp(seconds, tz=UTC), Decimal(str(equity)))
        for seconds, equity in backtest.equity
    ]
