"""Django signals the trading ledger sends; apps above `trading` (pipelines) listen."""

from django.dispatch import Signal

# A trade was opened (kwargs: trade_id). Daily trade counters listen here.
trade_opened = Signal()

# Trades were closed (kwargs: trade_ids). The closing report and daily P&L listen here.
trades_closed = Signal()
