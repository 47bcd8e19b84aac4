"""Benchmark: the position monitor sweep over 1,000 and 10,000 open SIMULATION positions across
500 symbols on the synthetic market data (issue 16: ≤ 0.3 s and ≤ 2 s per sweep).

Each size gets fresh positions opened 30 minutes before the sweep, half long and half short, with
stops and targets close enough that some exit. Two figures per size: the *first* sweep walks the
30 one-minute bars since each entry; the *next* sweep, 15 s later (the beat interval), is the
steady state. The market data provider is warmed first, as a long-lived worker's would be.

Before the per-symbol sweep (commit e0cbbc9, this script, 2026-12-02, load 9-12 on 2 cores):
1,000: first 23.9 s, next 11.9 s; 10,000: first 175.8 s, next 97.4 s. After, same day, load
9-12: 1,000: first 3.2 s, next 0.27 s; 10,000: first 36-38 s, next 2.7-4.4 s. A first sweep's
time is mostly its exits (940 here), each recorded through `services.position_reduce`.
"""

from __future__ import annotations

import itertools
import os
import string
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from common import fresh_tables, setup_django

SIZES = (1_000, 10_000)
SYMBOL_COUNT = 500
# A Tuesday afternoon inside the synthetic calendar's regular session (13:00 New York).
SWEEP_AT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
OPENED_MINUTES_BEFORE = 30


def symbols(count: int) -> list[str]:
    from trading.marketdata.universe import UNIVERSE

    names = list(UNIVERSE)
    for letters in itertools.product(string.ascii_uppercase, repeat=3):
        if len(names) >= count:
            break
        name = "".join(letters)
        if name not in names:
            names.append(name)
    return names[:count]


def bench_users(count: int):
    from accounts.models import User, UserStatus

    users = []
    for number in range(count):
        user, _ = User.objects.get_or_create(
            email=f"bench-monitor-{number:03d}@tradecrew.local",
            defaults={"full_name": f"Monitor bench {number}"},
        )
        if user.status != UserStatus.ACTIVE:
            user.status = UserStatus.ACTIVE
            user.save(update_fields=["status"])
        users.append(user)
    return users


def open_positions(size: int, market_data) -> None:
    """`size` open positions, `size / SYMBOL_COUNT` users each holding every symbol."""
    from trading.models import Mode, Position, SimulatedAccount, Trade

    names = symbols(SYMBOL_COUNT)
    users = bench_users(size // SYMBOL_COUNT)
    for user in users:
        fresh_tables(user)
        SimulatedAccount.objects.create(
            owner=user, initial_balance=Decimal("1000000"), cash=Decimal("1000000")
        )
    opened_at = SWEEP_AT - timedelta(minutes=OPENED_MINUTES_BEFORE)
    entry_quotes = market_data.quotes(names, at=opened_at)
    trades, positions = [], []
    for number, (user, symbol) in enumerate(itertools.product(users, names)):
        entry = Decimal(str(entry_quotes[symbol].price)).quantize(Decimal("0.0001"))
        long = number % 2 == 0
        direction = 1 if long else -1
        # Levels 0.8 %-3.2 % away: over 30 minutes some of them are touched.
        step = entry * Decimal("0.008") * (1 + number % 4)
        levels = {
            "stop_loss": (entry - direction * step).quantize(Decimal("0.0001")),
            "target_1": (entry + direction * step).quantize(Decimal("0.0001")),
            "target_2": (entry + direction * 2 * step).quantize(Decimal("0.0001")),
        }
        trades.append(
            Trade(
                owner=user,
                trading_mode=Mode.SIMULATION,
                symbol=symbol,
                side="long" if long else "short",
                quantity=100,
                remaining_quantity=100,
                requested_entry_price=entry,
                entry_price=entry,
                initial_stop_loss=levels["stop_loss"],
                opened_at=opened_at,
                **levels,
            )
        )
    Trade.objects.bulk_create(trades, batch_size=2_000)
    for trade in trades:
        positions.append(
            Position(
                owner_id=trade.owner_id,
                trading_mode=Mode.SIMULATION,
                symbol=trade.symbol,
                side=trade.side,
                quantity=100,
                average_price=trade.entry_price,
                stop_loss=trade.stop_loss,
                target_1=trade.target_1,
                target_2=trade.target_2,
                fill_costs={"slippage_pct": "0.05", "commission_per_share": "0.005"},
                trade=trade,
                opened_at=opened_at,
            )
        )
    Position.objects.bulk_create(positions, batch_size=2_000)


def sweep(market_data, now):
    from trading.monitor import positions_monitor_sweep

    started = time.perf_counter()
    report = positions_monitor_sweep(now=now, market_data=market_data, executor_for=None)
    return time.perf_counter() - started, report


def main() -> None:
    setup_django()
    from config.core import events
    from trading.marketdata.synthetic import SyntheticProvider

    market_data = SyntheticProvider()
    names = symbols(SYMBOL_COUNT)
    for symbol in names:  # a running worker's provider has these in its caches
        market_data.bars(symbol, "1m", end=SWEEP_AT, limit=390)
    print(f"position monitor sweep: {SYMBOL_COUNT} symbols, synthetic market data")
    for size in SIZES:
        open_positions(size, market_data)
        for label, now in (("first", SWEEP_AT), ("next", SWEEP_AT + timedelta(seconds=15))):
            seconds, report = sweep(market_data, now)
            events.flush(10)
            load = os.getloadavg()[0]
            print(
                f"  {size:>6,} positions, {label} sweep: {seconds:.3f} s "
                f"({report.positions / seconds:,.0f} positions/s; {len(report.exits)} exits, "
                f"{report.marked} marked, {len(report.errors)} errors) "
                f"[load {load:.2f}]",
                flush=True,
            )
    for user in bench_users(max(SIZES) // SYMBOL_COUNT):
        fresh_tables(user)


if __name__ == "__main__":
    main()
