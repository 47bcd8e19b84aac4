"""The monitor's per-symbol sweep (issue 16): exits match the bar-by-bar bracket rules on random
scenarios, each user hears one live event per sweep, large sweeps split by user into a group."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from trading import simulation_rules
from trading.marketdata.csv_provider import CsvProvider
from trading.models import Mode, Position, SimulatedAccount, Trade
from trading.monitor import positions_monitor_sweep, sweep_chunks

pytestmark = pytest.mark.django_db

OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 New York
MINUTES = 90
SLIPPAGE = Decimal("0.1")
SYMBOLS = ("AAA", "BBB", "CCC")


def no_broker(owner, mode):  # simulated positions never reach a broker
    raise AssertionError("no broker in simulation")


def random_bars(rng: random.Random) -> list[tuple[float, float, float, float]]:
    """A random walk of 1-minute bars around 100 with the odd gap, in whole cents."""
    bars, close = [], 100.0
    for _ in range(MINUTES):
        gap = rng.choice([0.0] * 12 + [-2.5, 2.5])
        open_ = round(close + gap + rng.uniform(-0.2, 0.2), 2)
        close = round(open_ + rng.uniform(-0.8, 0.8), 2)
        high = round(max(open_, close) + rng.uniform(0, 0.6), 2)
        low = round(min(open_, close) - rng.uniform(0, 0.6), 2)
        bars.append((open_, high, low, close))
    return bars


def write_bars(folder, symbol, bars) -> None:
    rows = ["timestamp,open,high,low,close,volume"]
    for minute, (o, h, low, c) in enumerate(bars):
        rows.append(f"{(OPEN + timedelta(minutes=minute)).isoformat()},{o},{h},{low},{c},1000")
    (folder / f"{symbol}.csv").write_text("\n".join(rows) + "\n")


@dataclass
class Expected:
    quantity: int
    stop_loss: Decimal | None
    target_1_hit: bool
    exits: list[simulation_rules.BarExit]


def expected_walk(position: Position, bars, until: datetime) -> Expected:
    """The reference: every closed bar from the entry's minute on, through the bracket rules."""
    bracket = simulation_rules.Bracket(
        side=position.side,
        quantity=position.quantity,
        entry_price=position.average_price,
        stop_loss=position.stop_loss,
        target_1=position.target_1,
        target_2=position.target_2,
        original_quantity=position.quantity,
        partial_exit_pct=position.partial_exit_pct,
        move_stop_to_breakeven=position.move_stop_to_breakeven,
        target_1_hit=position.target_1_hit,
        slippage_pct=SLIPPAGE,
    )
    first = int((position.opened_at - OPEN).total_seconds() // 60)
    exits = []
    for minute in range(first, MINUTES):
        if OPEN + timedelta(minutes=minute + 1) > until or bracket.quantity == 0:
            break
        o, h, low, _ = (Decimal(str(value)) for value in bars[minute])
        outcome = simulation_rules.bracket_bar(bracket, open_=o, high=h, low=low)
        exits += outcome.exits
        bracket.quantity -= sum(fill.quantity for fill in outcome.exits)
        bracket.target_1_hit = outcome.target_1_hit
        if outcome.new_stop is not None and bracket.quantity:
            bracket.stop_loss = outcome.new_stop
    return Expected(bracket.quantity, bracket.stop_loss, bracket.target_1_hit, exits)


def random_position(rng: random.Random, owner, symbol: str) -> Position:
    long = rng.random() < 0.5
    direction = 1 if long else -1
    entry = Decimal("100.00")

    def level(low, high):
        return (entry + direction * Decimal(str(round(rng.uniform(low, high), 2)))).quantize(
            Decimal("0.0001")
        )

    stop = level(-4, -0.5) if rng.random() < 0.9 else None
    target_1 = level(0.5, 3) if rng.random() < 0.85 else None
    target_2 = level(3, 7) if rng.random() < 0.85 else None
    quantity = rng.choice([1, 3, 10, 100])
    opened_at = OPEN + timedelta(minutes=rng.randrange(0, 30), seconds=rng.randrange(0, 60))
    trade = Trade.objects.create(
        owner=owner,
        trading_mode=Mode.SIMULATION,
        symbol=symbol,
        side="long" if long else "short",
        quantity=quantity,
        remaining_quantity=quantity,
        requested_entry_price=entry,
        entry_price=entry,
        stop_loss=stop or Decimal("0"),
        initial_stop_loss=stop or Decimal("0"),
        target_1=target_1 or Decimal("0"),
        target_2=target_2 or Decimal("0"),
        opened_at=opened_at,
    )
    return Position.objects.create(
        owner=owner,
        trading_mode=Mode.SIMULATION,
        symbol=symbol,
        side="long" if long else "short",
        quantity=quantity,
        average_price=entry,
        stop_loss=stop,
        target_1=target_1,
        target_2=target_2,
        target_1_hit=target_1 is not None and rng.random() < 0.1,
        move_stop_to_breakeven=rng.random() < 0.7,
        partial_exit_pct=rng.choice([25, 50, 75, 100]),
        fill_costs={"slippage_pct": str(SLIPPAGE), "commission_per_share": "0.005"},
        trade=trade,
        opened_at=opened_at,
    )


@pytest.mark.parametrize("seed", range(6))
def test_it_exits_as_the_bar_by_bar_rules_on_random_scenarios(tmp_path, seed):
    rng = random.Random(seed)
    bars = {symbol: random_bars(rng) for symbol in SYMBOLS}
    for symbol, symbol_bars in bars.items():
        write_bars(tmp_path, symbol, symbol_bars)
    provider = CsvProvider(tmp_path)
    owners = UserFactory.create_batch(12)
    for owner in owners:
        SimulatedAccount.objects.create(owner=owner, initial_balance=100000, cash=100000)
    positions = [random_position(rng, owner, symbol) for owner in owners for symbol in SYMBOLS]
    # Several sweeps at odd moments after the entries: each judges the bars closed since the
    # last look.
    sweeps = sorted(OPEN + timedelta(seconds=rng.randrange(30 * 60, 80 * 60)) for _ in range(4))
    for moment in sweeps:
        report = positions_monitor_sweep(now=moment, market_data=provider, executor_for=no_broker)
        assert report.errors == []

    touched = 0
    for position in positions:
        expected = expected_walk(position, bars[position.symbol], sweeps[-1])
        touched += bool(expected.exits) or expected.target_1_hit != position.target_1_hit
        trade = Trade.objects.get(pk=position.trade_id)
        position.refresh_from_db()
        described = f"seed {seed}, position {position}: expected {expected}"
        assert position.quantity == expected.quantity, described
        assert position.status == ("closed" if expected.quantity == 0 else "open"), described
        assert position.target_1_hit == expected.target_1_hit, described
        if expected.quantity:
            assert position.stop_loss == expected.stop_loss, described
        assert trade.remaining_quantity == expected.quantity, described
        if expected.exits:
            last = expected.exits[-1]
            if expected.quantity == 0:
                assert trade.close_reason == last.reason, described
            exited = sum(fill.quantity for fill in expected.exits)
            average = sum(fill.price * fill.quantity for fill in expected.exits) / exited
            assert trade.exit_price == average.quantize(Decimal("0.0001")), described
            partial = [fill for fill in expected.exits if fill.partial]
            if partial:
                assert trade.partial_exit_price == partial[0].price, described
                assert trade.partial_exit_quantity == partial[0].quantity, described
    # The scenarios exercise the rules: a good share of positions exits or reaches target 1.
    assert touched >= len(positions) // 4


def steady_positions(tmp_path, owners, symbols=SYMBOLS):
    """Flat bars at 100 and positions whose levels are far away: the sweep only marks them."""
    for symbol in symbols:
        write_bars(tmp_path, symbol, [(100.0, 100.0, 100.0, 100.0)] * MINUTES)
    positions = []
    for owner in owners:
        for symbol in symbols:
            positions.append(
                Position.objects.create(
                    owner=owner,
                    trading_mode=Mode.SIMULATION,
                    symbol=symbol,
                    side="long",
                    quantity=10,
                    average_price=Decimal("99"),
                    stop_loss=Decimal("90"),
                    target_1=Decimal("110"),
                    target_2=Decimal("120"),
                    opened_at=OPEN,
                )
            )
    return CsvProvider(tmp_path), positions


def test_it_sends_each_user_one_event_listing_their_changed_positions(
    tmp_path, django_capture_on_commit_callbacks
):
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    from config.core import events

    owner, peer = UserFactory.create_batch(2)
    provider, positions = steady_positions(tmp_path, [owner, peer])
    groups = [events.user_group(owner.pk), events.user_group(peer.pk)]

    def sweep():
        with django_capture_on_commit_callbacks(execute=True):
            report = positions_monitor_sweep(
                now=OPEN + timedelta(minutes=10, seconds=5),
                market_data=provider,
                executor_for=no_broker,
            )
        assert events.flush(10)
        return report

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        report = await sync_to_async(sweep)()
        # A last message on each group: everything sent before it arrives before it.
        for group in groups:
            await layer.group_send(group, {"type": "event.message", "payload": {"end": group}})
        received, ends = [], 0
        while ends < len(groups):
            message = await asyncio.wait_for(layer.receive(channel), 10)
            if "end" in message["payload"]:
                ends += 1
            else:
                received.append(message["payload"])
        for group in groups:
            await layer.group_discard(group, channel)
        return report, received

    report, received = async_to_sync(scenario)()
    assert report.marked == len(positions) == 6
    assert [event["event"] for event in received] == ["position_updated"] * 2
    by_user = {
        tuple(sorted(p["id"] for p in event["positions"])): event["positions"] for event in received
    }
    for user in (owner, peer):
        ids = tuple(sorted(p.pk for p in positions if p.owner_id == user.pk))
        assert ids in by_user
        assert {p["current_price"] for p in by_user[ids]} == {"100.0000"}
        assert {p["unrealized_pnl"] for p in by_user[ids]} == {"10.00"}
    for position in positions:
        position.refresh_from_db()
        assert position.price_updated_at == OPEN + timedelta(minutes=10, seconds=5)
        assert (position.current_price, position.unrealized_pnl) == (
            Decimal("100.0000"),
            Decimal("10.00"),
        )


def test_it_splits_a_large_sweep_by_user_into_chunks(tmp_path):
    owners = UserFactory.create_batch(4)
    steady_positions(tmp_path, owners[:3])
    steady_positions(tmp_path, owners[3:], symbols=("AAA",))
    # 3 + 3 + 3 + 1 positions in chunks of about 5: no user is split across chunks.
    chunks = sweep_chunks(max_positions=5)
    assert chunks == [[owners[0].pk], [owners[1].pk], [owners[2].pk, owners[3].pk]]
    assert sweep_chunks(max_positions=100) == [[o.pk for o in owners]]
    # A chunk's sweep touches its users' positions only.
    provider = CsvProvider(tmp_path)
    moment = OPEN + timedelta(minutes=20)
    report = positions_monitor_sweep(
        now=moment, market_data=provider, executor_for=no_broker, owner_ids=chunks[2]
    )
    assert report.positions == 4
    marked = set(Position.objects.filter(price_updated_at=moment).values_list("owner", flat=True))
    assert marked == {owners[2].pk, owners[3].pk}
