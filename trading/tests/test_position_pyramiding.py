"""A second entry in a held symbol grows the open position at a blended price (pyramiding), and
an exit then closes its trades first-in, first-out — hand-computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading import services
from trading.clock import ManualClock
from trading.executors.simulation import SimulationExecutor
from trading.marketdata.csv_provider import CsvProvider
from trading.models import Mode, Position, PositionStatus, SimulatedAccount, Trade, TradeStatus

pytestmark = pytest.mark.django_db

OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 New York
COSTS = {
    "slippage_pct": "0",
    "commission_per_share": "0.005",
    "simulate_partial_fills": False,
    "simulate_rejections": False,
    "initial_balance": "100000",
}


@pytest.fixture
def provider(tmp_path):
    """1-minute bars: 100 in minutes 0–1, 102 from minute 2 on."""
    rows = ["timestamp,open,high,low,close,volume"]
    for minute in range(0, 8):
        price = 100 if minute < 2 else 102
        stamp = (OPEN + timedelta(minutes=minute)).isoformat()
        rows.append(f"{stamp},{price},{price},{price},{price},1000")
    (tmp_path / "TEST.csv").write_text("\n".join(rows) + "\n")
    return CsvProvider(tmp_path)


def enter(owner, provider, clock, *, quantity, stop, name):
    executor = SimulationExecutor(owner=owner, mode_config=COSTS, clock=clock, market_data=provider)
    outcome = services.position_open(
        owner=owner,
        mode=Mode.SIMULATION,
        executor=executor,
        plan=services.EntryPlan(
            symbol="TEST",
            side="buy",
            quantity=quantity,
            entry_price=Decimal("100"),
            stop_loss=Decimal(stop),
            target_1=Decimal("110"),
            target_2=Decimal("120"),
        ),
        client_order_id=f"tc-test-{name}-entry",
        pipeline_id=None,
        execution_id=None,
        node_id="trade",
        fill_costs=COSTS,
        now=clock.now(),
    )
    assert outcome.status == "filled"
    return outcome


def test_it_grows_the_open_position_at_a_blended_price_then_exits_first_in_first_out(
    owner, provider
):
    clock = ManualClock(OPEN + timedelta(minutes=1))
    first = enter(owner, provider, clock, quantity=100, stop="95", name="first")
    clock.set(OPEN + timedelta(minutes=3))
    second = enter(owner, provider, clock, quantity=50, stop="99", name="second")

    assert (first.average_price, first.commission) == (Decimal("100"), Decimal("0.50"))
    assert (second.average_price, second.commission) == (Decimal("102"), Decimal("0.25"))
    position = Position.objects.get(owner=owner, symbol="TEST")
    older, newer = Trade.objects.filter(owner=owner).order_by("opened_at")
    # (100 × 100 + 50 × 102) / 150 = 100.6667; the position follows the newest plan.
    assert position.quantity == 150
    assert position.average_price == Decimal("100.6667")
    assert (position.stop_loss, position.trade_id) == (Decimal("99"), newer.pk)
    assert Position.objects.filter(owner=owner).count() == 1
    cash = SimulatedAccount.objects.get(owner=owner).cash
    assert cash == Decimal("100000") - Decimal("10000.50") - Decimal("5100.25")

    realized = services.position_reduce(
        position=position,
        quantity=120,
        price=Decimal("105"),
        commission=Decimal("0.60"),
        reason="manual",
        now=clock.now(),
    )

    older.refresh_from_db()
    newer.refresh_from_db()
    position.refresh_from_db()
    # Older: 100 × (105 − 100) − 0.50 exit − 0.50 entry commission = 499.00.
    assert (older.status, older.remaining_quantity) == (TradeStatus.CLOSED, 0)
    assert (older.realized_pnl, older.close_reason) == (Decimal("499.00"), "manual")
    # Newer: 20 × (105 − 102) − 0.10 exit − 0.10 (20/50 of 0.25) entry commission = 59.80.
    assert (newer.status, newer.remaining_quantity) == (TradeStatus.OPEN, 30)
    assert newer.realized_pnl == Decimal("59.80")
    assert realized == Decimal("558.80")
    # 30 shares left, marked at 105 against the blended 100.6667: 130.00 unrealized.
    assert (position.status, position.quantity) == (PositionStatus.OPEN, 30)
    assert position.unrealized_pnl == Decimal("130.00")
    assert SimulatedAccount.objects.get(owner=owner).cash == cash + Decimal("12599.40")
