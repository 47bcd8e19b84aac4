"""Trading writes, one module per concern: orders (intent first, then the broker), trades
(entries), positions (exits, marks, stops), closes (emergency and end of day), the simulated
account's cash and the entries queued while the market was closed. Importers may keep using
`trading.services.<name>`; the names they use are re-exported here."""

from trading.services.amounts import (
    price4,
)
from trading.services.cash import (
    simulated_account_for,
)
from trading.services.closes import (
    eod_action_record,
    pipeline_flatten,
    pipeline_positions_close,
    position_emergency_close,
    positions_emergency_close_all,
)
from trading.services.positions import (
    _position_event,
    position_close_now,
    position_mark,
    position_move_stop,
    position_reduce,
)
from trading.services.queued_entries import (
    queued_entries_fill,
)
from trading.services.trades import (
    EntryPlan,
    position_open,
)

__all__ = [
    "EntryPlan",
    "_position_event",
    "eod_action_record",
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
]
