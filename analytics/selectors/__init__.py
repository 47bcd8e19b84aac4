"""Analytics reads: the scope a trader asks about (user or pipelines, mode, period) and the
closed trades, equity and costs gathered for it — through the owning apps' selectors, never
writing their rows. A scope is one trading mode, so LIVE/PAPER results are never mixed with
SIMULATION/VALIDATION ones (spec §12.4).

One module per concern: ``scope`` (what was asked), ``ids`` (ids read from input), ``trades``
(the closed trades as columns and rows), ``breakdowns``, ``results`` (the `Performance` of a
scope), ``comparison`` (pipelines side by side) and ``costs`` (the ledger grouped). Importers use
``analytics.selectors.<name>``: every public name is re-exported here."""

from analytics.selectors.breakdowns import (
    CLOSE_REASON_LABELS,
    CLOSE_REASON_ORDER,
    trade_breakdowns,
)
from analytics.selectors.comparison import (
    MAX_COMPARED,
    compare,
    validate_pipeline_ids,
)
from analytics.selectors.costs import cost_breakdown
from analytics.selectors.ids import is_id, parse_ids
from analytics.selectors.results import DEFAULT_CAPITAL, Performance, performance
from analytics.selectors.scope import (
    EARLIEST_DAY,
    PERIOD_LABELS,
    PERIODS,
    TEST_MODES,
    Scope,
    scope_for,
)
from analytics.selectors.trades import (
    TRADE_COLUMNS,
    TradeColumns,
    closed_trade_columns,
    closed_trade_rows,
    trades_for_table,
)

__all__ = [
    "CLOSE_REASON_LABELS",
    "CLOSE_REASON_ORDER",
    "DEFAULT_CAPITAL",
    "EARLIEST_DAY",
    "MAX_COMPARED",
    "PERIODS",
    "PERIOD_LABELS",
    "TEST_MODES",
    "TRADE_COLUMNS",
    "Performance",
    "Scope",
    "TradeColumns",
    "closed_trade_columns",
    "closed_trade_rows",
    "compare",
    "cost_breakdown",
    "is_id",
    "parse_ids",
    "performance",
    "scope_for",
    "trade_breakdowns",
    "trades_for_table",
    "validate_pipeline_ids",
]
