"""Trading writes, one module per concern: orders (intent first, then the broker), trades
(entries), positions (exits, marks, stops), closes (emergency and end of day), the simulated
account's cash and the entries queued while the market was closed. Importers may keep using
`trading.services.<name>`: every public name, and the private ones importers use, is
re-exported here."""

from trading.services.amounts import (
    CENTS,
    FINAL_ORDER_STATUSES,
    PRICE,
    RESULT_STATUS,
    cents,
    price4,
)
from trading.services.cash import (
    simulated_account_for,
    simulated_account_reset,
)
from trading.services.closes import (
    CloseResult,
    eod_action_record,
    pipeline_flatten,
    pipeline_positions_close,
    position_emergency_close,
    positions_emergency_close_all,
)
from trading.services.orders import (
    order_broker_exit_record,
    order_intent,
    order_place,
    order_record_result,
)
from trading.services.positions import (
    _position_event,
    position_close_now,
    position_mark,
    position_move_stop,
    position_reduce,
    unrealized_pnl,
    whole_shares,
)
from trading.services.queued_entries import (
    logger,
    queued_entries_fill,
)
from trading.services.trades import (
    EntryOutcome,
    EntryPlan,
    entry_requests,
    exit_split,
    position_open,
)

__all__ = [
    "CENTS",
    "FINAL_ORDER_STATUSES",
    "PRICE",
    "RESULT_STATUS",
    "CloseResult",
    "EntryOutcome",
    "EntryPlan",
    "_position_event",
    "cents",
    "entry_requests",
    "eod_action_record",
    "exit_split",
    "logger",
    "order_broker_exit_record",
    "order_intent",
    "order_place",
    "order_record_result",
    "pipeline_flatten",
    "pipeline_positions_close",
    "position_close_now",
    "position_emergency_close",
    "position_mark",
    "position_move_stop",
    "position_open",
    "position_reduce",
    "positions_emergency_close_all",
    "price4",
    "queued_entries_fill",
    "simulated_account_for",
    "simulated_account_reset",
    "unrealized_pnl",
    "whole_shares",
]
