"""Exports of a scope: trades, equity and costs as streamed CSV (``csv_files``) and the
performance report as a PDF (``pdf_report``). Importers use ``analytics.exports.<name>``."""

from analytics.exports.csv_files import (
    TRADE_HEADER,
    costs_csv_response,
    equity_csv_response,
    equity_per_trade_csv_response,
    stamp,
    trade_rows,
    trades_csv_response,
)
from analytics.exports.pdf_report import pdf_bytes, pdf_response

__all__ = [
    "TRADE_HEADER",
    "costs_csv_response",
    "equity_csv_response",
    "equity_per_trade_csv_response",
    "pdf_bytes",
    "pdf_response",
    "stamp",
    "trade_rows",
    "trades_csv_response",
]
