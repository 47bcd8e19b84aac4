"""The position monitor: one beat-driven sweep over every monitored position (spec §10.1).

Simulated positions exit here, judged against each 1-minute bar's high and low since the last
sweep: stop → close everything; target 2 → close the rest; target 1 → close the configured share
once and move the stop to breakeven when asked. Within one bar the stop is checked first: when a
bar touches both, we cannot know which came first and assume the worse. In Alpaca modes the
broker's bracket legs are the exits; the sweep reconciles the ledger with the fills it reports.

At scale (issue 16) the sweep works per symbol, not per position: one bar read per symbol and
timeframe and one batch quote; a vectorised screen (`bracket_screen`) finds the few positions
whose levels a bar may have touched, and only those walk the bars under the exact rules. The
simulated exits and every mark are written in one transaction, and each user hears one live
event per sweep listing their changed positions. Broker calls (paper/live) stay outside it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.db import transaction
from django.db.models import Count

from trading import bracket_screen, services, simulation_rules
from trading.conditions import bar_values, parse_condition
from trading.executors.base import ExecutionError
from trading.live_positions import position_events_coalesced
from trading.marketdata.base import MarketDataError, MarketDataProvider
from trading.models import (
    CloseReason,
    Mode,
    Order,
    OrderLeg,
    Position,
    PositionSide,
    PositionStatus,
)
from trading.position_marks import positions_mark

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
MAX_BARS = 390  # one session of 1-minute bars


@dataclass
class SweepReport:
    positions: int = 0
    exits: list[dict] = field(default_factory=list)
    marked: int = 0
    errors: list[str] = field(default_factory=list)


def _d(value) -> Decimal:
    return Decimal(str(value))


class _SimulatedExits:
    """Exit costs for one simulated position: the pipeline's slippage and commission."""

    def __init__(self, position: Position):
        costs = position.fill_costs or {}
        self.slippage_pct = _d(costs.get("slippage_pct", "0"))
        self.commission_per_share = _d(costs.get("commission_per_share", "0"))
        self.commission_pct = _d(costs.get("commission_pct", "0"))

    def commission(self, quantity: int, price: Decimal) -> Decimal:
        return simulation_rules.commission_for(
            quantity,
            price,
            per_share=self.commission_per_share,
            pct_of_notional=self.commission_pct,
        )


class _SweepMarketData:
    """The sweep's view of the market data: each symbol × timeframe is read once per sweep."""

    def __init__(self, market_data: MarketDataProvider):
        self._market_data = market_data
        self._bars: dict[tuple, pd.DataFrame | MarketDataError] = {}

    def bars(self, symbol: str, timeframe: str, *, end: datetime, limit: int = 300):
        key = (symbol, timeframe, end, limit)
        if key not in self._bars:
            try:
                self._bars[key] = self._market_data.bars(symbol, timeframe, end=end, limit=limit)
            except MarketDataError as error:
                self._bars[key] = error
        bars = self._bars[key]
        if isinstance(bars, MarketDataError):
            raise bars
        return bars

    def quotes(self, symbols: list[str], *, at: datetime):
        return self._market_data.quotes(symbols, at=at)


def _exit(report, position, quantity, price, commission, reason, now, partial=False):
    realized = services.position_reduce(
        position=position,
        quantity=quantity,
        price=price,
        commission=commission,
        reason=reason,
        now=now,
        partial_at_target_1=partial,
    )
    report.exits.append(
        {
            "symbol": position.symbol,
            "mode": position.trading_mode,
            "quantity": quantity,
            "price": str(price),
            "reason": reason,
            "realized_pnl": str(realized),
        }
    )
    position.refresh_from_db()


def simulate_position(
    position: Position, bars: pd.DataFrame, now: datetime, report: SweepReport
) -> None:
    """Walk the bars in order and apply SIMULATION's bracket rules to one simulated position."""
    costs = _SimulatedExits(position)
    for opened_at, bar in bars.iterrows():
        if position.status != PositionStatus.OPEN:
            return
        bar_time = opened_at.to_pydatetime() + timedelta(minutes=1)
        trade = position.trade
        bracket = simulation_rules.Bracket(
            side=position.side,
            quantity=position.quantity,
            entry_price=trade.entry_price if trade else position.average_price,
            stop_loss=position.stop_loss,
            target_1=position.target_1,
            target_2=position.target_2,
            original_quantity=trade.quantity if trade else position.quantity,
            partial_exit_pct=position.partial_exit_pct,
            move_stop_to_breakeven=position.move_stop_to_breakeven,
            target_1_hit=position.target_1_hit,
            slippage_pct=costs.slippage_pct,
        )
        outcome = simulation_rules.bracket_bar(
            bracket, open_=_d(bar["open"]), high=_d(bar["high"]), low=_d(bar["low"])
        )
        if outcome.target_1_hit and not position.target_1_hit:
            Position.objects.filter(pk=position.pk).update(target_1_hit=True)
            position.target_1_hit = True
        for fill in outcome.exits:
            _exit(
                report,
                position,
                fill.quantity,
                fill.price,
                costs.commission(fill.quantity, fill.price),
                fill.reason,
                bar_time,
                partial=fill.partial,
            )
        if outcome.new_stop is not None and position.status == PositionStatus.OPEN:
            services.position_move_stop(position=position, stop_loss=outcome.new_stop)


def exit_rules_met(position: Position, market_data: MarketDataProvider, now: datetime):
    """(met, description, last close) for the position's exit conditions on closed bars."""
    rules = position.exit_rules or {}
    conditions = [
        parse_condition(raw, default_timeframe="5m", position=index)
        for index, raw in enumerate(rules.get("conditions") or [], start=1)
    ]
    if not conditions:
        return False, "", None
    keys: dict[str, set[str]] = {}
    for condition in conditions:
        keys.setdefault(condition.timeframe, set()).update(condition.keys)
    values = {}
    last_close = None
    for timeframe, wanted in keys.items():
        bars = market_data.bars(position.symbol, timeframe, end=now, limit=250)
        if bars.empty:
            return False, "", None
        values[timeframe] = bar_values(bars, wanted, timeframe)
        last_close = float(bars["close"].iloc[-1])
    checks = [c.evaluate(*values[c.timeframe])["met"] for c in conditions]
    combine = all if rules.get("logic") == "AND" else any
    described = f" {rules.get('logic', 'OR')} ".join(c.describe() for c in conditions)
    return combine(checks), described, last_close


def _check_exit_rules(positions, market_data, now, report, executor_for) -> None:
    """Close positions whose trade manager's exit conditions hold (at market)."""
    for position in positions:
        if position.status != PositionStatus.OPEN or not (position.exit_rules or {}).get(
            "conditions"
        ):
            continue
        try:
            met, described, last_close = exit_rules_met(position, market_data, now)
        except (MarketDataError, ValueError) as error:
            report.errors.append(f"{position.symbol} exit conditions: {error}")
            continue
        if not met:
            continue
        logger.info("exit conditions met for %s: %s", position.symbol, described)
        if position.trading_mode == Mode.SIMULATION:
            costs = _SimulatedExits(position)
            price = simulation_rules.slipped_price(
                _d(last_close),
                side="sell" if position.side == PositionSide.LONG else "buy",
                slippage_pct=costs.slippage_pct,
            )
            _exit(
                report,
                position,
                position.quantity,
                price,
                costs.commission(position.quantity, price),
                CloseReason.EXIT_CONDITION,
                now,
            )
            continue
        try:
            executor = executor_for(position.owner, position.trading_mode)
            services.position_close_now(
                position=position,
                executor=executor,
                reason=CloseReason.EXIT_CONDITION,
                client_order_id=f"tc-exit-{position.pk}-{int(now.timestamp())}"[:48],
                reference_price=_d(last_close),
                now=now,
            )
        except ExecutionError as error:
            report.errors.append(f"{position.symbol} exit conditions: {error}")
            continue
        position.refresh_from_db()
        report.exits.append(
            {
                "symbol": position.symbol,
                "mode": position.trading_mode,
                "quantity": 0,
                "price": str(last_close),
                "reason": CloseReason.EXIT_CONDITION,
            }
        )


def _sweep_simulated(positions, market_data, now, report) -> None:
    """Per symbol: one bar read, the screen over all its positions, the exact rules for the
    positions a bar may have touched (from that bar on)."""
    by_symbol: dict[str, list[Position]] = defaultdict(list)
    for position in positions:
        by_symbol[position.symbol].append(position)
    for symbol, group in by_symbol.items():
        try:
            bars = market_data.bars(symbol, "1m", end=now, limit=MAX_BARS)
        except MarketDataError as error:
            report.errors.append(f"{symbol}: {error}")
            continue
        first_touches = bracket_screen.first_touches(bars, group)
        for position, first in zip(group, first_touches.tolist(), strict=True):
            if first >= 0:
                simulate_position(position, bars.iloc[first:], now, report)


def _reconcile_broker(positions, executor, now, report) -> None:
    """Record exits the broker made (bracket legs) that the ledger does not know yet."""
    for position in positions:
        try:
            fills = executor.exit_fills(position.symbol)
        except ExecutionError as error:
            report.errors.append(f"{position.symbol}: {error}")
            continue
        known = set(
            Order.objects.filter(owner_id=position.owner_id, symbol=position.symbol).values_list(
                "broker_order_id", flat=True
            )
        )
        for fill in fills:
            if fill.broker_order_id in known or not fill.filled_quantity:
                continue
            is_target = (fill.raw or {}).get("type") == "limit"
            is_target_1 = (
                is_target
                and position.target_1 is not None
                and (
                    abs(_d(fill.filled_price) - position.target_1)
                    < abs(_d(fill.filled_price) - (position.target_2 or position.target_1))
                )
            )
            services.order_broker_exit_record(
                position=position,
                fill=fill,
                leg=OrderLeg.TARGET_1
                if is_target_1
                else (OrderLeg.TARGET_2 if is_target else OrderLeg.STOP),
                now=now,
            )
            reason = CloseReason.TARGET_2_HIT if is_target else CloseReason.STOP_HIT
            _exit(
                report,
                position,
                fill.filled_quantity,
                _d(fill.filled_price),
                fill.commission,
                reason,
                now,
                partial=is_target_1,
            )
            if is_target_1 and position.status == PositionStatus.OPEN:
                Position.objects.filter(pk=position.pk).update(target_1_hit=True)
                if position.move_stop_to_breakeven:
                    breakeven = (
                        position.trade.entry_price if position.trade else position.average_price
                    )
                    executor.move_stop(position.symbol, breakeven)
                    services.position_move_stop(position=position, stop_loss=breakeven)
        if position.status == PositionStatus.OPEN:
            broker = executor.position(position.symbol)
            if broker is None:
                # Closed at the broker by something we did not see (a manual close there).
                _exit(
                    report,
                    position,
                    position.quantity,
                    position.current_price or position.average_price,
                    Decimal("0"),
                    CloseReason.BROKER,
                    now,
                )


def _mark_open(positions, market_data, now, report) -> None:
    still_open = [p for p in positions if p.status == PositionStatus.OPEN]
    if not still_open:
        return
    try:
        quotes = market_data.quotes(sorted({p.symbol for p in still_open}), at=now)
    except MarketDataError as error:
        report.errors.append(f"quotes: {error}")
        return
    report.marked += positions_mark(
        marks=[
            (p, _d(quotes[p.symbol].price)) for p in still_open if quotes.get(p.symbol) is not None
        ],
        now=now,
    )


def _reconcile_accounts(positions, executor_for, now, report) -> None:
    by_account: dict[tuple, list[Position]] = defaultdict(list)
    for position in positions:
        if position.trading_mode in (Mode.PAPER, Mode.LIVE):
            by_account[(position.owner_id, position.trading_mode)].append(position)
    for (_, mode), group in by_account.items():
        try:
            executor = executor_for(group[0].owner, mode)
        except ExecutionError as error:
            report.errors.append(f"{mode}: {error}")
            continue
        _reconcile_broker(group, executor, now, report)


def monitored_positions(*, owner=None, owner_ids=None):
    """The open positions the monitor watches (all users, one `owner`, or some `owner_ids`)."""
    positions = Position.objects.filter(status=PositionStatus.OPEN, monitoring=True)
    if owner is not None:
        positions = positions.filter(owner=owner)
    if owner_ids is not None:
        positions = positions.filter(owner_id__in=owner_ids)
    return positions


def sweep_chunks(*, max_positions: int) -> list[list[int]]:
    """The users to sweep, packed into chunks of about `max_positions` monitored positions.

    Chunks split by user, never inside one: a user's positions, trades and simulated account
    are then written by one chunk only, so chunks running side by side on several workers never
    wait for (or deadlock on) each other's rows. A symbol several chunks hold is read once per
    chunk. A user holding more than `max_positions` makes a chunk alone."""
    counts = (
        monitored_positions()
        .values("owner_id")
        .annotate(count=Count("id"))
        .order_by("owner_id")
        .values_list("owner_id", "count")
    )
    chunks: list[list[int]] = []
    size = 0
    for owner_id, count in counts:
        if not chunks or size + count > max_positions:
            chunks.append([])
            size = 0
        chunks[-1].append(owner_id)
        size += count
    return chunks


def positions_monitor_sweep(
    *, now: datetime, market_data: MarketDataProvider, executor_for, owner=None, owner_ids=None
) -> SweepReport:
    """One pass over every open, monitored position (all users, or one `owner`'s: the demo
    history replays its own days; or the users of one chunk of a large sweep)."""
    queryset = monitored_positions(owner=owner, owner_ids=owner_ids)
    # The owner is loaded only for broker accounts (a query per account): for 10,000 simulated
    # positions a third model per row was a tenth of the sweep.
    positions = list(queryset.select_related("trade"))
    report = SweepReport(positions=len(positions))
    if not positions:
        return report
    market_data = _SweepMarketData(market_data)
    simulated = [p for p in positions if p.trading_mode == Mode.SIMULATION]
    brokered = [p for p in positions if p.trading_mode != Mode.SIMULATION]
    with position_events_coalesced():
        # Broker calls first and outside the transaction: no lock is held across the network.
        _reconcile_accounts(brokered, executor_for, now, report)
        _check_exit_rules(brokered, market_data, now, report, executor_for)
        with transaction.atomic():
            _sweep_simulated(simulated, market_data, now, report)
            _check_exit_rules(simulated, market_data, now, report, executor_for)
            _mark_open(positions, market_data, now, report)
    return report
