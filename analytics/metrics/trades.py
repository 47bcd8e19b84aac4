"""Trade statistics over a :class:`TradeBook`: P&L and costs, win rate, averages,
expectancy, profit factor, streaks, the long/short split and the time spent in the market."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from analytics.metrics.book import TradeBook, naive_utc
from analytics.metrics.units import MONEY_QUANT, units_to_money


def trade_count(book: TradeBook) -> int:
    """Number of closed trades: ``N``."""
    return len(book)


def net_pnl(book: TradeBook) -> Decimal:
    """Net P&L: ``Σ net_pnlᵢ`` — what the trades made after commissions and slippage."""
    return units_to_money(book.net_units.sum())


def gross_pnl(book: TradeBook) -> Decimal:
    """Gross P&L: ``Σ gross_pnlᵢ`` — fill-price moves times shares, before commissions."""
    return units_to_money(book.gross_units.sum())


def total_commissions(book: TradeBook) -> Decimal:
    """Commissions paid: ``Σ commissionᵢ``."""
    return units_to_money(book.commission_units.sum())


def total_slippage(book: TradeBook) -> Decimal:
    """Slippage paid: ``Σ slippageᵢ`` (fill worse than the requested price, in dollars; already
    inside gross and net P&L, shown so the trader sees what fills cost)."""
    return units_to_money(book.slippage_units.sum())


def pnl_after_costs(net: Decimal, agent_costs: Decimal) -> Decimal:
    """P&L after agent and LLM costs: ``net P&L − Σ cost-ledger spend`` over the same scope.

    A pipeline that earns $40 and spends $55 on models is losing $15.
    """
    return (Decimal(net) - Decimal(agent_costs)).quantize(MONEY_QUANT)


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
    return (units_to_money(wins.sum()) / wins.size).quantize(MONEY_QUANT)


def average_loss(book: TradeBook) -> Decimal | None:
    """Average loss (negative): ``Σ net_pnlᵢ (net_pnlᵢ < 0) ÷ losing trades``."""
    losses = book.net_units[book.net_units < 0]
    if not losses.size:
        return None
    return (units_to_money(losses.sum()) / losses.size).quantize(MONEY_QUANT)


def expectancy(book: TradeBook) -> Decimal | None:
    """Expectancy per trade: ``net P&L ÷ N``

    (equal to ``win rate × average win + loss rate × average loss``; breakevens count as 0).
    """
    if not len(book):
        return None
    return (net_pnl(book) / len(book)).quantize(MONEY_QUANT)


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
    return units_to_money(book.net_units.max())


def largest_loss(book: TradeBook) -> Decimal | None:
    """Largest loss: ``min net_pnlᵢ`` over losing trades (negative)."""
    if not len(book) or book.net_units.min() >= 0:
        return None
    return units_to_money(book.net_units.min())


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
        "net_pnl": units_to_money(units.sum()) if count else Decimal("0.0000"),
    }


def exposure_time(book: TradeBook, start: datetime, end: datetime) -> float | None:
    """Exposure: ``|⋃ [opened_atᵢ, closed_atᵢ] ∩ [start, end]| ÷ (end − start)`` — the share
    of the period when at least one position was open (overlapping trades count once)."""
    lo = np.datetime64(naive_utc(start), "us")
    hi = np.datetime64(naive_utc(end), "us")
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
        "agent_costs": Decimal(agent_costs).quantize(MONEY_QUANT),
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
