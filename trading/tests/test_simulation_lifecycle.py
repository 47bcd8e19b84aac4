"""A simulated position from entry to exit: fills with slippage and commission, the monitor's
stop / target 1 (partial, stop to breakeven) / target 2 rules, long and short, hand-computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading import services
from trading.clock import ManualClock
from trading.executors.simulation import SimulationExecutor
from trading.marketdata.csv_provider import CsvProvider
from trading.models import Mode, Position, SimulatedAccount, Trade
from trading.monitor import positions_monitor_sweep

pytestmark = pytest.mark.django_db

OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 New York
COSTS = {
    "slippage_pct": "0.1",
    "commission_per_share": "0.005",
    "simulate_partial_fills": False,
    "simulate_rejections": False,
    "initial_balance": "100000",
}


def write_bars(folder, symbol, closes_by_minute: dict[int, tuple[float, float, float, float]]):
    """1-minute bars from the open: minute → (open, high, low, close); flat 100 elsewhere."""
    rows = ["timestamp,open,high,low,close,volume"]
    last = max(closes_by_minute) if closes_by_minute else 0
    for minute in range(0, last + 2):
        o, h, low, c = closes_by_minute.get(minute, (100.0, 100.0, 100.0, 100.0))
        stamp = (OPEN + timedelta(minutes=minute)).isoformat()
        rows.append(f"{stamp},{o},{h},{low},{c},1000")
    (folder / f"{symbol}.csv").write_text("\n".join(rows) + "\n")


def no_broker(owner, mode):  # simulated positions never reach a broker
    raise AssertionError("no broker in simulation")


def open_position(owner, provider, clock, side="buy", stop="98", t1="103", t2="106", qty=100):
    executor = SimulationExecutor(owner=owner, mode_config=COSTS, clock=clock, market_data=provider)
    plan = services.EntryPlan(
        symbol="TEST",
        side=side,
        quantity=qty,
        entry_price=Decimal("100"),
        stop_loss=Decimal(stop),
        target_1=Decimal(t1),
        target_2=Decimal(t2),
        partial_exit_pct=50,
        move_stop_to_breakeven=True,
    )
    outcome = services.position_open(
        owner=owner,
        mode=Mode.SIMULATION,
        executor=executor,
        plan=plan,
        client_order_id=f"tc-test-{side}-entry",
        pipeline_id=None,
        execution_id=None,
        node_id="trade",
        fill_costs=COSTS,
        now=clock.now(),
    )
    assert outcome.status == "filled"
    return outcome


def sweep(provider, clock):
    return positions_monitor_sweep(now=clock.now(), market_data=provider, executor_for=no_broker)


def test_target_1_then_target_2_long(owner, tmp_path):
    # Minute 0 trades at 100; minute 3 reaches 103.20 (T1); minutes 4–5 hold near 104;
    # minute 6 reaches 106.40 (T2).
    write_bars(
        tmp_path,
        "TEST",
        {
            3: (101, 103.2, 100.9, 103),
            4: (104, 104.2, 103.5, 104),
            5: (104, 104.2, 103.5, 104),
            6: (104, 106.4, 103.8, 106),
        },
    )
    provider = CsvProvider(tmp_path)
    clock = ManualClock(OPEN + timedelta(minutes=1))
    outcome = open_position(owner, provider, clock)
    # Entry: quote 100.00 + 0.1% slippage = 100.10; commission 100 × $0.005 = $0.50.
    assert outcome.average_price == Decimal("100.1000")
    assert outcome.commission == Decimal("0.50")
    account = SimulatedAccount.objects.get(owner=owner)
    assert account.cash == Decimal("100000") - Decimal("10010.00") - Decimal("0.50")

    clock.set(OPEN + timedelta(minutes=5))
    sweep(provider, clock)
    position = Position.objects.get(owner=owner, symbol="TEST")
    # Target 1: half sold at the 103.00 limit, and the stop moved to breakeven (the entry).
    assert position.quantity == 50
    assert position.target_1_hit is True
    assert position.stop_loss == Decimal("100.1000")

    clock.set(OPEN + timedelta(minutes=8))
    sweep(provider, clock)
    trade = Trade.objects.get(owner=owner)
    position.refresh_from_db()
    assert position.status == "closed"
    assert trade.status == "closed"
    assert trade.close_reason == "target_2_hit"
    assert (trade.partial_exit_quantity, trade.partial_exit_price) == (50, Decimal("103.0000"))
    # By hand: 50 × (103.00 − 100.10) + 50 × (106.00 − 100.10) − (0.50 + 0.25 + 0.25)
    #        = 145.00 + 295.00 − 1.00 = 439.00
    assert trade.realized_pnl == Decimal("439.00")
    assert trade.exit_price == Decimal("104.5000")
    assert trade.commission == Decimal("1.0000")
    account.refresh_from_db()
    assert account.cash == Decimal("100000") + Decimal("439.00")


def test_the_stop_closes_everything_with_slippage(owner, tmp_path):
    # Minute 4 drops through the 98.00 stop (low 97.50); the stop slips 0.1% to 97.90.
    write_bars(tmp_path, "TEST", {4: (99, 99.2, 97.5, 97.8)})
    provider = CsvProvider(tmp_path)
    clock = ManualClock(OPEN + timedelta(minutes=1))
    open_position(owner, provider, clock)
    clock.set(OPEN + timedelta(minutes=6))
    sweep(provider, clock)
    trade = Trade.objects.get(owner=owner)
    assert trade.close_reason == "stop_hit"
    assert trade.exit_price == Decimal("97.9000")
    # 100 × (97.90 − 100.10) − 0.50 − 0.50 = −221.00
    assert trade.realized_pnl == Decimal("-221.00")


def test_a_gap_through_the_stop_fills_at_the_open(owner, tmp_path):
    write_bars(tmp_path, "TEST", {2: (96, 96.5, 95.5, 96)})
    provider = CsvProvider(tmp_path)
    clock = ManualClock(OPEN + timedelta(minutes=1))
    open_position(owner, provider, clock)
    clock.set(OPEN + timedelta(minutes=4))
    sweep(provider, clock)
    trade = Trade.objects.get(owner=owner)
    # The bar opened at 96.00, below the 98.00 stop: filled at 96.00 − 0.10 slippage.
    assert trade.exit_price == Decimal("95.9000")


def test_a_short_mirrors_the_rules(owner, tmp_path):
    # Short at 100: stop 102, T1 97, T2 94. Minute 2 falls to 96.80 (T1), minutes 3–4 hold
    # near 98.50, minute 5 rises to 100.20, through the breakeven stop (99.90).
    write_bars(
        tmp_path,
        "TEST",
        {
            2: (99, 99.1, 96.8, 97),
            3: (98.5, 98.6, 98.4, 98.5),
            4: (98.5, 98.6, 98.4, 98.5),
            5: (99.5, 100.2, 99.4, 100),
        },
    )
    provider = CsvProvider(tmp_path)
    clock = ManualClock(OPEN + timedelta(minutes=1))
    outcome = open_position(owner, provider, clock, side="sell", stop="102", t1="97", t2="94")
    assert outcome.average_price == Decimal("99.9000")  # sells fill 0.10 lower
    clock.set(OPEN + timedelta(minutes=7))
    sweep(provider, clock)
    trade = Trade.objects.get(owner=owner)
    assert trade.close_reason == "stop_hit"
    assert trade.partial_exit_price == Decimal("97.0000")
    # Stop at breakeven 99.90 bought back with +0.10 slippage = 100.00.
    # 50 × (99.90 − 97.00) + 50 × (99.90 − 100.00) − 1.00 = 145.00 − 5.00 − 1.00 = 139.00
    assert trade.realized_pnl == Decimal("139.00")


def test_a_replayed_run_fills_the_same(owner, tmp_path):
    from trading.executors.base import BracketOrderRequest

    write_bars(tmp_path, "TEST", {})
    provider = CsvProvider(tmp_path)
    clock = ManualClock(OPEN + timedelta(minutes=1))
    config = {**COSTS, "simulate_partial_fills": True, "simulate_rejections": True, "seed": 7}
    request = BracketOrderRequest(
        client_order_id="tc-replay",
        symbol="TEST",
        side="buy",
        quantity=100,
        entry_price=Decimal("100"),
        stop_loss=Decimal("98"),
        target_1=Decimal("103"),
        target_2=Decimal("106"),
    )
    fills = [
        SimulationExecutor(
            owner=owner, mode_config=config, clock=clock, market_data=provider
        ).submit_bracket(request)
        for _ in range(3)
    ]
    assert len({(f.status, f.filled_quantity, f.filled_price) for f in fills}) == 1


def test_it_fills_target_1_then_target_2_when_one_bar_reaches_both(owner, tmp_path):
    # Issue 13 item 7: minute 3 runs from 101 up to 106.50 and crosses both targets. Resting
    # limits fill in price order: half at target 1 (103), the rest at target 2 (106) — not
    # everything at target 2.
    write_bars(tmp_path, "TEST", {3: (101, 106.5, 100.9, 106)})
    provider = CsvProvider(tmp_path)
    clock = ManualClock(OPEN + timedelta(minutes=1))
    open_position(owner, provider, clock, qty=66)

    clock.set(OPEN + timedelta(minutes=5))
    sweep(provider, clock)
    trade = Trade.objects.get(owner=owner)
    position = Position.objects.get(owner=owner, symbol="TEST")
    assert position.status == "closed"
    assert trade.close_reason == "target_2_hit"
    assert (trade.partial_exit_quantity, trade.partial_exit_price) == (33, Decimal("103.0000"))
    # By hand: entry 100.10 (100 + 0.1% slippage), commission 66 × 0.005 = 0.33, each exit
    # 33 × 0.005 = 0.165 → 0.17. 33 × 2.90 + 33 × 5.90 − (0.33 + 0.17 + 0.17) = 289.73.
    assert trade.realized_pnl == Decimal("289.73")


def test_it_closes_at_market_when_the_exit_conditions_hold(owner, tmp_path):
    # The trade manager's exit condition "close < 99" on 1-minute bars: minute 3 closes at
    # 98.50 (above the 98 stop), so the monitor closes at market: 98.50 − 0.1% = 98.40.
    write_bars(tmp_path, "TEST", {3: (99.5, 99.6, 98.3, 98.5)})
    provider = CsvProvider(tmp_path)
    clock = ManualClock(OPEN + timedelta(minutes=1))
    open_position(owner, provider, clock)
    Position.objects.filter(owner=owner).update(
        exit_rules={
            "conditions": [{"indicator": "close", "operator": "<", "value": 99, "timeframe": "1m"}],
            "logic": "OR",
        }
    )

    clock.set(OPEN + timedelta(minutes=3))
    sweep(provider, clock)
    assert Position.objects.get(owner=owner).status == "open"  # minute 3 has not closed yet

    clock.set(OPEN + timedelta(minutes=4))
    report = sweep(provider, clock)
    trade = Trade.objects.get(owner=owner)
    assert Position.objects.get(owner=owner).status == "closed"
    assert trade.close_reason == "exit_condition"
    assert trade.exit_price == Decimal("98.4000")
    # 100 × (98.40 − 100.10) − 0.50 − 0.50 = −171.00
    assert trade.realized_pnl == Decimal("-171.00")
    assert [exit["reason"] for exit in report.exits] == ["exit_condition"]
