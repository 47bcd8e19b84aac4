"""A scope's exports as streamed CSV — closed trades, equity per day or per trade, the cost
ledger — read in chunks from a cursor, so 100k rows never sit in memory."""

from __future__ import annotations

import csv
from datetime import datetime

from django.http import StreamingHttpResponse

from analytics import selectors
from analytics.selectors import Performance, Scope
from billing.selectors import ledger_entries

CHUNK = 2000


class _Echo:
    """csv.writer target that hands each row back instead of buffering it."""

    def write(self, value: str) -> str:
        return value


def _stream(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def stamp(scope: Scope) -> str:
    return f"{scope.mode.lower()}-{scope.period.lower()}-{scope.last_day:%Y%m%d}"


def _local(moment: datetime | None, scope: Scope) -> str:
    return moment.astimezone(scope.zone).isoformat(timespec="seconds") if moment else ""


TRADE_HEADER = [
    "trade_id",
    "closed_at",
    "opened_at",
    "symbol",
    "side",
    "quantity",
    "entry_price",
    "exit_price",
    "net_pnl",
    "gross_pnl",
    "commission",
    "slippage",
    "close_reason",
    "pipeline_id",
    "mode",
]


def trade_rows(scope: Scope, filters: dict | None = None):
    """The scope's closed trades as CSV rows, newest first, read in chunks from a cursor."""
    trades = selectors.trades_for_table(scope, filters).values_list(
        "pk",
        "closed_at",
        "opened_at",
        "symbol",
        "side",
        "quantity",
        "entry_price",
        "exit_price",
        "realized_pnl",
        "commission",
        "slippage_cost",
        "close_reason",
        "pipeline_id",
        "trading_mode",
    )
    for row in trades.iterator(chunk_size=CHUNK):
        (
            pk,
            closed,
            opened,
            symbol,
            side,
            qty,
            entry,
            exit_,
            net,
            commission,
            slip,
            reason,
            pid,
            mode,
        ) = row
        yield [
            pk,
            _local(closed, scope),
            _local(opened, scope),
            symbol,
            side,
            qty,
            entry,
            exit_ if exit_ is not None else "",
            net,
            net + commission,
            commission,
            slip,
            reason,
            pid or "",
            mode,
        ]


def trades_csv_response(scope: Scope, filters: dict | None = None) -> StreamingHttpResponse:
    return _stream(f"trades-{stamp(scope)}.csv", TRADE_HEADER, trade_rows(scope, filters))


def equity_csv_response(perf: Performance) -> StreamingHttpResponse:
    rows = (
        [day.isoformat(), equity, f"{drawdown:.6f}"]
        for (day, equity), (_, drawdown) in zip(perf.equity, perf.drawdown(), strict=True)
    )
    return _stream(f"equity-{stamp(perf.scope)}.csv", ["date", "equity", "drawdown"], rows)


def equity_per_trade_csv_response(perf: Performance) -> StreamingHttpResponse:
    """Equity after each closed trade, in close order (the curve a backtest draws)."""
    rows = (
        [moment.astimezone(perf.scope.zone).isoformat(timespec="seconds"), equity]
        for moment, equity in perf.equity_per_trade()
    )
    return _stream(f"equity-per-trade-{stamp(perf.scope)}.csv", ["closed_at", "equity"], rows)


def costs_csv_response(scope: Scope) -> StreamingHttpResponse:
    entries = ledger_entries(owner=scope.user, start=scope.start, end=scope.end).values_list(
        "created_at",
        "pipeline_id",
        "execution_id",
        "agent_type",
        "cost_type",
        "quantity",
        "total_cost",
        "metadata",
    )
    rows = (
        [
            _local(at, scope),
            pipeline_id or "",
            execution_id or "",
            agent_type,
            cost_type,
            quantity,
            total,
            (metadata or {}).get("model", ""),
        ]
        for at, pipeline_id, execution_id, agent_type, cost_type, quantity, total, metadata in (
            entries.iterator(chunk_size=CHUNK)
        )
    )
    header = ["created_at", "pipeline_id", "execution_id", "agent", "cost_type", "quantity"]
    return _stream(f"costs-{stamp(scope)}.csv", [*header, "total_cost", "model"], rows)
