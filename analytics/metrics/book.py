"""Closed trades as analytics reads them: :class:`ClosedTrade` (one round trip) and the
:class:`TradeBook` of numpy columns every trade metric works on, built once from trades
(:func:`trade_book`) or from already-scaled database columns (:func:`trade_book_from_columns`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from analytics.metrics.units import money_to_units


@dataclass(frozen=True)
class ClosedTrade:
    """One round trip as analytics sees it (a live trade or a backtest's)."""

    symbol: str
    side: str  # "long" or "short"
    quantity: int
    entry_price: Decimal
    net_pnl: Decimal  # after commissions and slippage
    opened_at: datetime
    closed_at: datetime
    gross_pnl: Decimal | None = None  # before commissions; None → net + commission
    commission: Decimal = Decimal("0")
    slippage: Decimal = Decimal("0")
    close_reason: str = ""
    pipeline_id: str = ""
    trade_id: str = ""


@dataclass
class TradeBook:
    """Closed trades as numpy columns (one row per trade, ordered by close time)."""

    net_units: np.ndarray  # int64, net P&L in 1/10,000 $
    gross_units: np.ndarray  # int64
    commission_units: np.ndarray  # int64
    slippage_units: np.ndarray  # int64
    opened_at: np.ndarray  # datetime64[us] (UTC)
    closed_at: np.ndarray  # datetime64[us] (UTC)
    is_long: np.ndarray  # bool
    quantity: np.ndarray  # int64
    entry_price: np.ndarray  # float64
    symbol: np.ndarray  # object (str)
    close_reason: np.ndarray  # object (str)
    pipeline_id: np.ndarray  # object (str)
    trade_id: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    def __len__(self) -> int:
        return int(self.net_units.shape[0])

    def subset(self, mask: np.ndarray) -> TradeBook:
        """The trades where ``mask`` is true, in the same order."""
        trade_ids = self.trade_id if len(self.trade_id) == len(self) else None
        return TradeBook(
            net_units=self.net_units[mask],
            gross_units=self.gross_units[mask],
            commission_units=self.commission_units[mask],
            slippage_units=self.slippage_units[mask],
            opened_at=self.opened_at[mask],
            closed_at=self.closed_at[mask],
            is_long=self.is_long[mask],
            quantity=self.quantity[mask],
            entry_price=self.entry_price[mask],
            symbol=self.symbol[mask],
            close_reason=self.close_reason[mask],
            pipeline_id=self.pipeline_id[mask],
            trade_id=trade_ids[mask] if trade_ids is not None else np.array([], dtype=object),
        )


def naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _get(record, name, default=None):
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def trade_book(trades: Iterable[ClosedTrade | Mapping]) -> TradeBook:
    """Build the numpy columns once from closed trades (dataclasses, model rows or mappings).

    Trades are sorted by close time, so streaks and per-trade equity read in the order the
    trader lived them. A missing ``gross_pnl`` is ``net_pnl + commission``: slippage is already
    in the fill prices, so it is shown beside the P&L, not added back.
    """
    rows = sorted(trades, key=lambda t: naive_utc(_get(t, "closed_at")))
    n = len(rows)
    net = np.empty(n, dtype=np.int64)
    gross = np.empty(n, dtype=np.int64)
    commission = np.empty(n, dtype=np.int64)
    slippage = np.empty(n, dtype=np.int64)
    opened = np.empty(n, dtype="datetime64[us]")
    closed = np.empty(n, dtype="datetime64[us]")
    is_long = np.empty(n, dtype=bool)
    quantity = np.empty(n, dtype=np.int64)
    entry_price = np.empty(n, dtype=np.float64)
    symbol = np.empty(n, dtype=object)
    reason = np.empty(n, dtype=object)
    pipeline = np.empty(n, dtype=object)
    trade_id = np.empty(n, dtype=object)
    for i, t in enumerate(rows):
        net[i] = money_to_units(_get(t, "net_pnl"))
        commission[i] = money_to_units(_get(t, "commission"))
        slippage[i] = money_to_units(_get(t, "slippage"))
        g = _get(t, "gross_pnl")
        gross[i] = money_to_units(g) if g is not None else net[i] + commission[i]
        opened[i] = np.datetime64(naive_utc(_get(t, "opened_at")), "us")
        closed[i] = np.datetime64(naive_utc(_get(t, "closed_at")), "us")
        is_long[i] = str(_get(t, "side", "long")).lower() == "long"
        quantity[i] = int(_get(t, "quantity", 0) or 0)
        entry_price[i] = float(_get(t, "entry_price", 0) or 0)
        symbol[i] = str(_get(t, "symbol", ""))
        reason[i] = str(_get(t, "close_reason", "") or "")
        pipeline[i] = str(_get(t, "pipeline_id", "") or "")
        trade_id[i] = str(_get(t, "trade_id", "") or _get(t, "pk", "") or "")
    return TradeBook(
        net_units=net,
        gross_units=gross,
        commission_units=commission,
        slippage_units=slippage,
        opened_at=opened,
        closed_at=closed,
        is_long=is_long,
        quantity=quantity,
        entry_price=entry_price,
        symbol=symbol,
        close_reason=reason,
        pipeline_id=pipeline,
        trade_id=trade_id,
    )


def trade_book_from_columns(
    *,
    net_units: Sequence[int],
    commission_units: Sequence[int],
    slippage_units: Sequence[int],
    opened_at_us: Sequence[int],
    closed_at_us: Sequence[int],
    is_long: Sequence[bool],
    quantity: Sequence[int],
    entry_price: Sequence[float],
    symbol: Sequence[str],
    close_reason: Sequence[str],
    pipeline_id: Sequence[str],
    trade_id: Sequence[str] = (),
    gross_units: Sequence[int] | None = None,
) -> TradeBook:
    """Build the columns straight from already-scaled values (money in 1/10,000 $, times in
    microseconds since the epoch, UTC), e.g. as PostgreSQL returns them, already in close
    order: no per-row Decimal work, so 10,000 trades load in a few milliseconds."""
    net = np.asarray(net_units, dtype=np.int64)
    commission = np.asarray(commission_units, dtype=np.int64)
    return TradeBook(
        net_units=net,
        gross_units=(
            net + commission if gross_units is None else np.asarray(gross_units, dtype=np.int64)
        ),
        commission_units=commission,
        slippage_units=np.asarray(slippage_units, dtype=np.int64),
        opened_at=np.asarray(opened_at_us, dtype=np.int64).astype("datetime64[us]"),
        closed_at=np.asarray(closed_at_us, dtype=np.int64).astype("datetime64[us]"),
        is_long=np.asarray(is_long, dtype=bool),
        quantity=np.asarray(quantity, dtype=np.int64),
        entry_price=np.asarray(entry_price, dtype=np.float64),
        symbol=np.asarray(symbol, dtype=object),
        close_reason=np.asarray(close_reason, dtype=object),
        pipeline_id=np.asarray(pipeline_id, dtype=object),
        trade_id=np.asarray(trade_id, dtype=object),
    )
