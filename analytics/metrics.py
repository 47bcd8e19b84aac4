"""Performance metrics, written once: pure functions over closed trades and an equity series.

Everything here works on plain inputs, so live trades, paper trades, simulations and backtests
are all measured by the same code:

- closed trades: a :class:`TradeBook` (numpy columns, built once by :func:`trade_book` from any
  iterable of :class:`ClosedTrade` or mappings with the same keys);
- an equity series: a list of ``(date or datetime, Decimal equity)`` pairs, oldest first.

Money stays exact: Decimal amounts are held as integer counts of 1/10,000 of a dollar (the
ledger's finest precision, four decimal places), summed in int64 and turned back into Decimal,
so a sum of 10,000 trades is computed in one numpy pass and is still exact to the cent. Ratios
are floats. Return-based figures (Sharpe, Sortino, volatility, CAGR, max drawdown) follow the
conventions of quantstats — risk-free rate 0, 252 periods a year, sample standard deviation —
and the tests hold them to quantstats' figures on the same series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 252
MONEY_SCALE = 10_000  # the ledger's finest unit: four decimal places
_MONEY_QUANT = Decimal("0.0001")
_CENTS = Decimal("0.01")


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


def _to_units(amount) -> int:
    return int((Decimal(amount or 0) * MONEY_SCALE).to_integral_value())


def _money(units: int | np.integer) -> Decimal:
    return (Decimal(int(units)) / MONEY_SCALE).quantize(_MONEY_QUANT)


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


def _naive_utc(moment: datetime) -> datetime:
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
    rows = sorted(trades, key=lambda t: _naive_utc(_get(t, "closed_at")))
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
        net[i] = _to_units(_get(t, "net_pnl"))
        commission[i] = _to_units(_get(t, "commission"))
        slippage[i] = _to_units(_get(t, "slippage"))
        g = _get(t, "gross_pnl")
        gross[i] = _to_units(g) if g is not None else net[i] + commission[i]
        opened[i] = np.datetime64(_naive_utc(_get(t, "opened_at")), "us")
        closed[i] = np.datetime64(_naive_utc(_get(t, "closed_at")), "us")
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


# ---------------------------------------------------------------------------------------------
# Trade statistics
# ---------------------------------------------------------------------------------------------


def trade_count(book: TradeBook) -> int:
    """Number of closed trades: ``N``."""
    return len(book)


def net_pnl(book: TradeBook) -> Decimal:
    """Net P&L: ``Σ net_pnlᵢ`` — what the trades made after commissions and slippage."""
    return _money(book.net_units.sum())


def gross_pnl(book: TradeBook) -> Decimal:
    """Gross P&L: ``Σ gross_pnlᵢ`` — fill-price moves times shares, before commissions."""
    return _money(book.gross_units.sum())


def total_commissions(book: TradeBook) -> Decimal:
    """Commissions paid: ``Σ commissionᵢ``."""
    return _money(book.commission_units.sum())


def total_slippage(book: TradeBook) -> Decimal:
    """Slippage paid: ``Σ slippageᵢ`` (fill worse than the requested price, in dollars; already
    inside gross and net P&L, shown so the trader sees what fills cost)."""
    return _money(book.slippage_units.sum())


def pnl_after_costs(net: Decimal, agent_costs: Decimal) -> Decimal:
    """P&L after agent and LLM costs: ``net P&L − Σ cost-ledger spend`` over the same scope.

    A pipeline that earns $40 and spends $55 on models is losing $15.
    """
    return (Decimal(net) - Decimal(agent_costs)).quantize(_MONEY_QUANT)


def roi(net: Decimal, allocated_capital: Decimal | None) -> float | None:
    """Return on the allocated capital: ``net P&L ÷ allocated capital`` (None without capital)."""
    if not allocated_capital:
        return None
    return float(Decimal(net) / Decimal(allocated_capital))


def winning_trades(book: TradeBook) -> int:
    """Trades with ``net_pnl > 0``."""
    return int((book.net_units > 0).sum())


def losing_trades(book: TradeBook) -> int:
    """Trades with ``net_pnl < 0`` (a trade at exactly zero is breakeven, neither)."""
    return int((book.net_units < 0).sum())


def win_rate(book: TradeBook) -> float | None:
    """Win rate: ``winning trades ÷ N`` (None when there are no trades)."""
    if not len(book):
        return None
    return winning_trades(book) / len(book)


def average_win(book: TradeBook) -> Decimal | None:
    """Average win: ``Σ net_pnlᵢ (net_pnlᵢ > 0) ÷ winning trades``."""
    wins = book.net_units[book.net_units > 0]
    if not wins.size:
        return None
    return (_money(wins.sum()) / wins.size).quantize(_MONEY_QUANT)


def average_loss(book: TradeBook) -> Decimal | None:
    """Average loss (negative): ``Σ net_pnlᵢ (net_pnlᵢ < 0) ÷ losing trades``."""
    losses = book.net_units[book.net_units < 0]
    if not losses.size:
        return None
    return (_money(losses.sum()) / losses.size).quantize(_MONEY_QUANT)


def expectancy(book: TradeBook) -> Decimal | None:
    """Expectancy per trade: ``net P&L ÷ N``

    (equal to ``win rate × average win + loss rate × average loss``; breakevens count as 0).
    """
    if not len(book):
        return None
    return (net_pnl(book) / len(book)).quantize(_MONEY_QUANT)


def profit_factor(book: TradeBook) -> float | None:
    """Profit factor on net P&L: ``Σ wins ÷ |Σ losses|``.

    ``inf`` when there are wins and no losses; None when there is neither.
    """
    won = int(book.net_units[book.net_units > 0].sum())
    lost = -int(book.net_units[book.net_units < 0].sum())
    if lost == 0:
        return math.inf if won > 0 else None
    return won / lost


def largest_win(book: TradeBook) -> Decimal | None:
    """Largest win: ``max net_pnlᵢ`` over winning trades."""
    if not len(book) or book.net_units.max() <= 0:
        return None
    return _money(book.net_units.max())


def largest_loss(book: TradeBook) -> Decimal | None:
    """Largest loss: ``min net_pnlᵢ`` over losing trades (negative)."""
    if not len(book) or book.net_units.min() >= 0:
        return None
    return _money(book.net_units.min())


def average_holding_time(book: TradeBook) -> timedelta | None:
    """Average holding time: ``Σ (closed_atᵢ − opened_atᵢ) ÷ N``."""
    if not len(book):
        return None
    held = (book.closed_at - book.opened_at).astype("timedelta64[us]").astype(np.int64)
    return timedelta(microseconds=int(held.sum() // len(book)))


def _longest_run(flags: np.ndarray) -> int:
    """Longest run of consecutive True values, vectorised."""
    if not flags.size or not flags.any():
        return 0
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())


def max_consecutive_wins(book: TradeBook) -> int:
    """Longest streak of winning trades in close order (a breakeven breaks the streak)."""
    return _longest_run(book.net_units > 0)


def max_consecutive_losses(book: TradeBook) -> int:
    """Longest streak of losing trades in close order (a breakeven breaks the streak)."""
    return _longest_run(book.net_units < 0)


def long_short_split(book: TradeBook) -> dict:
    """Long/short split: for each direction, ``count``, ``win_rate`` and ``net_pnl``."""
    return {
        "long": _group_stats(book.net_units[book.is_long]),
        "short": _group_stats(book.net_units[~book.is_long]),
    }


def _group_stats(units: np.ndarray) -> dict:
    count = int(units.size)
    wins = int((units > 0).sum())
    return {
        "count": count,
        "wins": wins,
        "win_rate": wins / count if count else None,
        "net_pnl": _money(units.sum()) if count else Decimal("0.0000"),
    }


def exposure_time(book: TradeBook, start: datetime, end: datetime) -> float | None:
    """Exposure: ``|⋃ [opened_atᵢ, closed_atᵢ] ∩ [start, end]| ÷ (end − start)`` — the share
    of the period when at least one position was open (overlapping trades count once)."""
    lo = np.datetime64(_naive_utc(start), "us")
    hi = np.datetime64(_naive_utc(end), "us")
    if hi <= lo:
        return None
    if not len(book):
        return 0.0
    opened = np.clip(book.opened_at, lo, hi)
    closed = np.clip(book.closed_at, lo, hi)
    order = np.argsort(opened, kind="stable")
    opened, closed = opened[order], closed[order]
    # Merge overlapping intervals: an interval starts a new block when it opens after every
    # earlier one has closed.
    reach = np.maximum.accumulate(closed)
    starts_block = np.concatenate(([True], opened[1:] > reach[:-1]))
    first_of_block = np.flatnonzero(starts_block)
    last_of_block = np.concatenate((first_of_block[1:] - 1, [len(reach) - 1]))
    block_start = opened[first_of_block]
    block_end = reach[last_of_block]
    covered = (block_end - block_start).astype(np.int64).sum()
    return float(covered) / float((hi - lo).astype(np.int64))


# ---------------------------------------------------------------------------------------------
# Breakdowns
# ---------------------------------------------------------------------------------------------


def breakdown(book: TradeBook, keys: np.ndarray, order: Sequence | None = None) -> list[dict]:
    """Group trades by ``keys`` (one key per trade): per group ``count``, ``wins``,
    ``win_rate = wins ÷ count`` and ``net_pnl = Σ net_pnlᵢ``. One numpy pass (``pd.factorize`` +
    ``np.bincount``); groups come in ``order`` when given, else by net P&L, best first."""
    if not len(book):
        return []
    # pandas' hash-based factorize: no string sort, no fixed-width copy of the keys.
    index, labels = pd.factorize(np.asarray(keys, dtype=object), sort=True)
    counts = np.bincount(index, minlength=labels.size)
    wins = np.bincount(index, weights=(book.net_units > 0), minlength=labels.size)
    # Float weights are exact for integer units below 2**53 (90 billion dollars at 1/10,000 $),
    # so rounding back to int64 gives the exact sum.
    sums = np.rint(np.bincount(index, weights=book.net_units, minlength=labels.size)).astype(
        np.int64
    )
    rows = [
        {
            "key": str(label),
            "count": int(counts[i]),
            "wins": int(wins[i]),
            "win_rate": float(wins[i] / counts[i]),
            "net_pnl": _money(sums[i]),
        }
        for i, label in enumerate(labels)
    ]
    if order is not None:
        rank = {str(k): i for i, k in enumerate(order)}
        return sorted(rows, key=lambda r: rank.get(r["key"], len(rank)))
    return sorted(rows, key=lambda r: r["net_pnl"], reverse=True)


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def weekday_keys(book: TradeBook, utc_offset_minutes: np.ndarray | int = 0) -> np.ndarray:
    """Day of the week each trade was entered (exchange time = UTC + offset), as Mon…Sun."""
    local = book.opened_at + np.asarray(utc_offset_minutes).astype("timedelta64[m]")
    days = (local.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    return np.array(WEEKDAYS, dtype=object)[days]


def entry_hour_keys(book: TradeBook, utc_offset_minutes: np.ndarray | int = 0) -> np.ndarray:
    """Hour of entry in exchange time (UTC + offset) as "09:00"…"15:00"."""
    local = book.opened_at + np.asarray(utc_offset_minutes).astype("timedelta64[m]")
    hours = (local.astype("datetime64[h]").astype(np.int64)) % 24
    return np.array([f"{h:02d}:00" for h in range(24)], dtype=object)[hours]


def direction_keys(book: TradeBook) -> np.ndarray:
    """Direction of each trade: "long" or "short"."""
    return np.where(book.is_long, "long", "short").astype(object)


# ---------------------------------------------------------------------------------------------
# Equity statistics
# ---------------------------------------------------------------------------------------------

EquitySeries = Sequence[tuple[date | datetime, Decimal]]


def equity_by_day(
    starting_balance: Decimal,
    book: TradeBook,
    days: Sequence[date],
    day_of_close: np.ndarray,
    open_pnl_on_last_day: Decimal = Decimal("0"),
) -> list[tuple[date, Decimal]]:
    """Daily equity: ``equity_d = starting balance + Σ net_pnlᵢ (trade i closed on or before d)``,
    plus, on the last day only, the unrealized P&L of positions still open marked at the last
    price. ``day_of_close`` holds each trade's close day (``datetime64[D]``, in the trader's
    zone); trades closed before ``days[0]`` are already in the balance at the start."""
    if not days:
        return []
    grid = np.array(days, dtype="datetime64[D]")
    # searchsorted on the sorted close days: how many trades closed by each day's end.
    order = np.argsort(day_of_close, kind="stable")
    cumulative = np.concatenate(([0], np.cumsum(book.net_units[order])))
    closed_by = np.searchsorted(day_of_close[order], grid, side="right")
    start_units = _to_units(starting_balance)
    units = start_units + cumulative[closed_by]
    series = [(day, _money(u).quantize(_CENTS)) for day, u in zip(days, units, strict=True)]
    if open_pnl_on_last_day:
        last_day, last_equity = series[-1]
        series[-1] = (last_day, (last_equity + Decimal(open_pnl_on_last_day)).quantize(_CENTS))
    return series


def equity_by_trade(starting_balance: Decimal, book: TradeBook) -> list[tuple[datetime, Decimal]]:
    """Equity after each closed trade: ``equity_k = starting balance + Σ_{i ≤ k} net_pnlᵢ``."""
    units = _to_units(starting_balance) + np.cumsum(book.net_units)
    return [
        (moment.astype(datetime).replace(tzinfo=UTC), _money(u).quantize(_CENTS))
        for moment, u in zip(book.closed_at, units, strict=True)
    ]


def _equity_values(equity: EquitySeries) -> np.ndarray:
    return np.array([float(value) for _, value in equity], dtype=np.float64)


def daily_returns(equity: EquitySeries) -> np.ndarray:
    """Simple returns between consecutive points: ``rₜ = equityₜ ÷ equityₜ₋₁ − 1``."""
    values = _equity_values(equity)
    if values.size < 2:
        return np.array([], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = values[1:] / values[:-1] - 1
    return returns[np.isfinite(returns)]


def sharpe_ratio(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """Sharpe: ``mean(r) ÷ std(r, ddof=1) × √periods`` (risk-free 0, sample deviation)."""
    if returns.size < 2:
        return None
    deviation = returns.std(ddof=1)
    if deviation == 0:
        return None
    return float(returns.mean() / deviation * math.sqrt(periods))


def sortino_ratio(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """Sortino: ``mean(r) ÷ √(Σ min(rₜ, 0)² ÷ n) × √periods`` (downside deviation over all n
    periods, target 0 — the Red Rock Capital definition quantstats uses)."""
    if returns.size < 2:
        return None
    downside = math.sqrt(float((returns[returns < 0] ** 2).sum()) / returns.size)
    if downside == 0:
        return None
    return float(returns.mean() / downside * math.sqrt(periods))


def annualised_volatility(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """Annualised volatility: ``std(r, ddof=1) × √periods``."""
    if returns.size < 2:
        return None
    return float(returns.std(ddof=1) * math.sqrt(periods))


def cagr(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float | None:
    """CAGR: ``(Π (1 + rₜ))^(periods ÷ n) − 1`` — n return periods make ``n ÷ periods`` years."""
    if not returns.size:
        return None
    wealth = float(np.prod(1.0 + returns))
    if wealth < 0:
        return None
    return wealth ** (periods / returns.size) - 1


def drawdown_series(equity: EquitySeries) -> np.ndarray:
    """Drawdown at each point, from the running peak: ``ddₜ = equityₜ ÷ max_{s ≤ t} equityₛ − 1``
    (≤ 0; the peak is the highest equity reached so far, not the initial balance)."""
    values = _equity_values(equity)
    if not values.size:
        return values
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peaks > 0, values / peaks - 1, 0.0)


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall from a peak: its depth (≤ 0) and when it started, bottomed and ended."""

    depth: float  # max drawdown as a fraction, e.g. -0.12
    amount: Decimal  # the same fall in dollars (peak equity − trough equity, negative)
    peak_at: date | datetime | None
    trough_at: date | datetime | None
    recovered_at: date | datetime | None  # None while still under water


def max_drawdown(equity: EquitySeries) -> Drawdown:
    """Max drawdown: ``min_t (equityₜ ÷ max_{s ≤ t} equityₛ − 1)``, with the peak it fell from,
    the trough, and the first later point back at or above that peak (recovery)."""
    if not equity:
        return Drawdown(0.0, Decimal("0"), None, None, None)
    values = _equity_values(equity)
    series = drawdown_series(equity)
    trough = int(np.argmin(series))
    depth = float(series[trough])
    if depth >= 0:
        return Drawdown(0.0, Decimal("0"), None, None, None)
    peak = int(np.argmax(values[: trough + 1]))
    after = np.flatnonzero(values[trough:] >= values[peak])
    recovered = equity[trough + int(after[0])][0] if after.size else None
    amount = Decimal(equity[trough][1]) - Decimal(equity[peak][1])
    return Drawdown(depth, amount, equity[peak][0], equity[trough][0], recovered)


def calmar_ratio(cagr_value: float | None, drawdown: Drawdown) -> float | None:
    """Calmar: ``CAGR ÷ |max drawdown|`` (None without a drawdown)."""
    if cagr_value is None or not drawdown.depth:
        return None
    return cagr_value / abs(drawdown.depth)


def rebased(equity: EquitySeries, base: float = 100.0) -> list[tuple[date | datetime, float]]:
    """Equity rebased to ``base`` at its first point: ``base × equityₜ ÷ equity₀`` (comparison)."""
    if not equity or not equity[0][1]:
        return []
    first = float(equity[0][1])
    return [(moment, base * float(value) / first) for moment, value in equity]


# ---------------------------------------------------------------------------------------------
# All of it at once
# ---------------------------------------------------------------------------------------------


def trade_statistics(
    book: TradeBook, agent_costs: Decimal = Decimal("0"), allocated_capital: Decimal | None = None
) -> dict:
    """Every trade statistic for one scope, as a dict of named figures."""
    net = net_pnl(book)
    return {
        "trades": trade_count(book),
        "winning_trades": winning_trades(book),
        "losing_trades": losing_trades(book),
        "net_pnl": net,
        "gross_pnl": gross_pnl(book),
        "commissions": total_commissions(book),
        "slippage": total_slippage(book),
        "agent_costs": Decimal(agent_costs).quantize(_MONEY_QUANT),
        "pnl_after_costs": pnl_after_costs(net, agent_costs),
        "roi": roi(net, allocated_capital),
        "win_rate": win_rate(book),
        "average_win": average_win(book),
        "average_loss": average_loss(book),
        "expectancy": expectancy(book),
        "profit_factor": profit_factor(book),
        "largest_win": largest_win(book),
        "largest_loss": largest_loss(book),
        "average_holding_time": average_holding_time(book),
        "max_consecutive_wins": max_consecutive_wins(book),
        "max_consecutive_losses": max_consecutive_losses(book),
        "long_short": long_short_split(book),
    }


def equity_statistics(equity: EquitySeries, periods: int = PERIODS_PER_YEAR) -> dict:
    """Every equity statistic for one series, as a dict of named figures."""
    returns = daily_returns(equity)
    growth = cagr(returns, periods)
    drawdown = max_drawdown(equity)
    return {
        "sharpe": sharpe_ratio(returns, periods),
        "sortino": sortino_ratio(returns, periods),
        "volatility": annualised_volatility(returns, periods),
        "cagr": growth,
        "max_drawdown": drawdown.depth,
        "max_drawdown_amount": drawdown.amount,
        "max_drawdown_peak": drawdown.peak_at,
        "max_drawdown_trough": drawdown.trough_at,
        "max_drawdown_recovery": drawdown.recovered_at,
        "calmar": calmar_ratio(growth, drawdown),
        "starting_equity": Decimal(equity[0][1]) if equity else None,
        "ending_equity": Decimal(equity[-1][1]) if equity else None,
    }
