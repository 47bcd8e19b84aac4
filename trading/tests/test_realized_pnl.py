"""One definition of realized P&L — net of the entry and the exit commission — in the close
messages, the trade rows, the API and the pages; an open trade has realized nothing.

The figures are the issue's: closing AAPL said −$19.78 (the exit commission only) while the
trade history said −$19.96; close-all said −$20.57 against −$22.86."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from trading import services
from trading.clock import ManualClock
from trading.executors.simulation import SimulationExecutor
from trading.marketdata.csv_provider import CsvProvider
from trading.models import Mode, Position, Trade

pytestmark = pytest.mark.django_db

OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 New York
EXIT_MINUTE = 5


def costs(commission_per_share: str) -> dict:
    return {
        "slippage_pct": "0",
        "commission_per_share": commission_per_share,
        "simulate_partial_fills": False,
        "simulate_rejections": False,
        "initial_balance": "100000",
    }


def write_bars(folder, symbol: str, entry: float, exit_: float) -> None:
    """1-minute bars: `entry` until minute 4, `exit_` from minute 5 on."""
    rows = ["timestamp,open,high,low,close,volume"]
    for minute in range(0, 12):
        level = entry if minute < EXIT_MINUTE else exit_
        stamp = (OPEN + timedelta(minutes=minute)).isoformat()
        rows.append(f"{stamp},{level},{level},{level},{level},1000")
    (folder / f"{symbol}.csv").write_text("\n".join(rows) + "\n")


class Market:
    """AAPL: 40 shares, $0.0045 a share each way (=$0.18), 100.00 → 99.51.
    MSFT: 132 shares, $0.016 a share each way (=$2.11), 50.00 → 50.01."""

    def __init__(self, owner, folder):
        write_bars(folder, "AAPL", 100.0, 99.51)
        write_bars(folder, "MSFT", 50.0, 50.01)
        self.owner = owner
        self.provider = CsvProvider(folder)
        self.clock = ManualClock(OPEN + timedelta(minutes=2))
        self.costs = {"AAPL": costs("0.0045"), "MSFT": costs("0.016")}

    def executor(self, symbol):
        return SimulationExecutor(
            owner=self.owner,
            mode_config=self.costs[symbol],
            clock=self.clock,
            market_data=self.provider,
        )

    def executor_for(self, position):
        return self.executor(position.symbol)

    def open(self, symbol: str, quantity: int, entry: str) -> Position:
        entry_price = Decimal(entry)
        outcome = services.position_open(
            owner=self.owner,
            mode=Mode.SIMULATION,
            executor=self.executor(symbol),
            plan=services.EntryPlan(
                symbol=symbol,
                side="buy",
                quantity=quantity,
                entry_price=entry_price,
                stop_loss=entry_price * Decimal("0.9"),
                target_1=entry_price * Decimal("1.1"),
                target_2=entry_price * Decimal("1.2"),
                partial_exit_pct=50,
                move_stop_to_breakeven=True,
            ),
            client_order_id=f"tc-test-{symbol}-entry",
            pipeline_id=None,
            execution_id=None,
            node_id="trade",
            fill_costs=self.costs[symbol],
            now=self.clock.now(),
        )
        assert outcome.status == "filled"
        return Position.objects.get(owner=self.owner, symbol=symbol, status="open")


@pytest.fixture
def market(owner, tmp_path):
    return Market(owner, tmp_path)


def test_it_realizes_nothing_while_a_trade_is_open(market, owner):
    market.open("AAPL", 40, "100")
    trade = Trade.objects.get(owner=owner)
    assert trade.entry_commission == Decimal("0.18")
    assert trade.realized_pnl == Decimal("0")


def test_it_reports_the_close_of_aapl_net_of_both_commissions(market, owner):
    position = market.open("AAPL", 40, "100")
    market.clock.set(OPEN + timedelta(minutes=EXIT_MINUTE + 2))
    result = services.position_emergency_close(
        owner=owner, position=position, reason="test", executor_for=market.executor_for
    )
    trade = Trade.objects.get(owner=owner)
    # 40 × (99.51 − 100.00) = −19.60, less $0.18 in and $0.18 out: −19.96 (not −19.78).
    assert result.realized_pnl == Decimal("-19.96")
    assert trade.realized_pnl == Decimal("-19.96")
    assert trade.commission == Decimal("0.36")


def test_it_reports_close_all_as_the_sum_of_the_trade_rows(market, owner):
    positions = [market.open("AAPL", 40, "100"), market.open("MSFT", 132, "50")]
    market.clock.set(OPEN + timedelta(minutes=EXIT_MINUTE + 2))
    results = services.positions_emergency_close_all(
        owner=owner, positions=positions, reason="test", executor_for=market.executor_for
    )
    total = sum((r.realized_pnl for r in results), Decimal("0"))
    # AAPL −19.96; MSFT 132 × 0.01 = +1.32 less 2 × $2.11 = −2.90: −22.86 (not −20.57).
    assert total == Decimal("-22.86")
    assert sum(t.realized_pnl for t in Trade.objects.filter(owner=owner)) == total


def test_it_charges_the_entry_commission_share_by_share_across_partial_exits(market, owner):
    position = market.open("MSFT", 132, "50")
    now = OPEN + timedelta(minutes=EXIT_MINUTE + 2)
    first = services.position_reduce(
        position=position,
        quantity=33,
        price=Decimal("51"),
        commission=Decimal("0.70"),
        reason="target_1_hit",
        now=now,
    )
    # 33 × 1.00 − 0.70 − a quarter of the $2.11 entry commission (0.53): 31.77
    assert first == Decimal("31.77")
    trade = Trade.objects.get(owner=owner)
    assert trade.realized_pnl == first
    second = services.position_reduce(
        position=position,
        quantity=99,
        price=Decimal("49"),
        commission=Decimal("1.41"),
        reason="stop_hit",
        now=now,
    )
    trade.refresh_from_db()
    # The parts of the entry commission add up to it exactly: 0.53 + 1.58 = 2.11.
    assert second == Decimal("-99") - Decimal("1.41") - Decimal("1.58")
    assert trade.realized_pnl == first + second
    assert trade.realized_pnl == Decimal("33") - Decimal("99") - Decimal("2.11") - Decimal("2.11")


def test_the_api_shows_no_realized_figure_for_an_open_trade(api, market, owner):
    market.open("AAPL", 40, "100")
    rows = api.get("/api/v1/trades").json()["items"]
    assert [row["realized_pnl"] for row in rows] == [None]


def test_the_close_message_matches_the_trade_history_and_says_net(owner_client, market, owner):
    market.open("AAPL", 40, "100")
    position = Position.objects.get(owner=owner, symbol="AAPL")
    response = owner_client.post(
        reverse("trading:position-close", args=[position.pk]), {"confirmed": "yes"}, follow=True
    )
    html = response.content.decode()
    trade = Trade.objects.get(owner=owner)
    assert trade.status == "closed"
    shown = re.search(r"realized P&amp;L ([+−]?\$[\d,.]+) \(net of commissions\)", html)[1]
    assert shown == _signed(trade.realized_pnl)
    history = owner_client.get(reverse("trading:trades")).content.decode()
    assert 'Realized P&amp;L <small class="muted">net of commissions</small>' in history
    assert _signed(trade.realized_pnl) in history


def _signed(amount: Decimal) -> str:
    from trading.money import signed_money

    return signed_money(amount)
