"""A backtest's results written to PostgreSQL: its trades copied in and its row updated, for one
backtest or a whole sweep chunk in one transaction.

Trades go from the engine's records straight into `COPY` rows (no model instances: building
2,200 `BacktestTrade` objects per backtest cost more than the replay itself, profiled on the
sweep bench's chunk, 2026-12-02), so a chunk of five backtests is one COPY and five updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone

from pipelines.backtest.engine import BacktestResult, History
from pipelines.backtest.results import backtest_metrics, daily_equity, equity_points
from pipelines.models import Backtest, BacktestStatus, BacktestTrade
from trading.calendar import NEW_YORK

CENT = Decimal("0.01")
PRICE = Decimal("0.0001")


@dataclass
class Replayed:
    """One backtest replayed in memory, its results not written yet."""

    backtest: Backtest
    history: History
    result: BacktestResult
    seconds: float


def _price(value) -> Decimal | None:
    return None if value is None else Decimal(repr(float(value))).quantize(PRICE, ROUND_HALF_UP)


def _money(value) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT, ROUND_HALF_UP)


def _moment(seconds) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def _net_pnl(trade, last_close: float) -> float:
    """Net P&L of a trade; a position still open is marked to the last close (its exit
    commission is not paid yet)."""
    if not trade.is_open:
        return trade.net_pnl
    sign = 1 if trade.side == "long" else -1
    remaining = trade.quantity - sum(quantity for _, quantity, _ in trade.exits)
    return trade.net_pnl + sign * remaining * (last_close - trade.entry_price)


def _trade_values(backtest_id, symbol: str, trade, last_close: float) -> dict:
    """The stored columns of one trade, by attribute name."""
    return {
        "backtest_id": backtest_id,
        "symbol": symbol,
        "side": trade.side,
        "quantity": trade.quantity,
        "entry_bar": trade.entry_bar,
        "entry_at": _moment(trade.entry_seconds),
        "entry_price": _price(trade.entry_price),
        "stop_loss": _price(trade.stop_loss),
        "target_1": _price(trade.target_1),
        "target_2": _price(trade.target_2),
        "exit_bar": trade.exit_bar,
        "exit_at": _moment(trade.exit_seconds),
        "exit_price": _price(trade.exit_price),
        "partial_exit_quantity": trade.partial_exit_quantity,
        "partial_exit_price": _price(trade.partial_exit_price),
        "commission": _price(trade.commission),
        # An open position's P&L: marked to the last close, its exit commission unpaid.
        "net_pnl": _money(_net_pnl(trade, last_close)),
        "close_reason": trade.close_reason or ("open" if trade.is_open else ""),
        "is_open": trade.is_open,
        "reasoning": trade.reasoning,
    }


def _copy_trades(replays: list[Replayed]) -> None:
    """COPY every trade of the replays in: bulk_create spends ~1.6 s on 2,700 trades (51,000
    SQL parameters, each prepared by its field) where COPY of the plain values takes ~0.2 s.
    Columns come from the model; psycopg adapts the plain values itself."""
    if not any(replay.result.trades for replay in replays):
        return
    fields = [f for f in BacktestTrade._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(BacktestTrade._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for replay in replays:
            last_close = float(replay.history.close[-1])
            symbol, backtest_id = replay.history.symbol, replay.backtest.pk
            for trade in replay.result.trades:
                values = _trade_values(backtest_id, symbol, trade, last_close)
                copy.write_row([values[name] for name in names])


def _day_zone(backtest: Backtest) -> str:
    """Where a bar's day is read: daily bars in the zone their file gave (a date there), intraday
    bars on the exchange's calendar (New York)."""
    return backtest.dataset.source_time_zone if backtest.dataset.timeframe == "1d" else NEW_YORK.key


def _finish(replay: Replayed) -> None:
    """The backtest's row: status, final figures, equity curves and metrics."""
    backtest, history, result = replay.backtest, replay.history, replay.result
    final = _money(result.final_equity)
    backtest.status = BacktestStatus.CANCELLED if result.cancelled else BacktestStatus.COMPLETED
    if not result.cancelled:
        backtest.bars_done = backtest.bars_total
    Backtest.objects.filter(pk=backtest.pk).update(
        status=backtest.status,
        bars_done=backtest.bars_done,
        final_equity=final,
        net_pnl=final - backtest.initial_cash,
        trades_count=len(result.closed_trades),
        equity=equity_points(history.open_seconds, result.equity),
        daily_equity=daily_equity(history.open_seconds, result.equity, _day_zone(backtest)),
        metrics=backtest_metrics(
            result,
            initial_cash=float(backtest.initial_cash),
            seconds=replay.seconds,
            bars=len(history),
        ),
        finished_at=timezone.now(),
    )


@transaction.atomic
def results_save(replays: list[Replayed]) -> None:
    """Write the replays' results in one transaction: one COPY of all their trades, then each
    backtest's row (its status and bars_done are set on the instance too)."""
    _copy_trades(replays)
    for replay in replays:
        _finish(replay)
