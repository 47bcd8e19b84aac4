"""A SIMULATION pipeline run opens a position; the clock moves on and the monitor closes it by
the rules, with P&L that adds up from the recorded fills, slippage and commission included."""

from datetime import timedelta
from decimal import Decimal

import pytest

from pipelines import engine, services
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import Report
from trading.marketdata.registry import market_data_provider
from trading.models import Order, Position, Trade
from trading.monitor import positions_monitor_sweep

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_simulated_trade_opens_and_the_monitor_closes_it(owner, clock):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    pipeline.mode_config = {
        "slippage_pct": "0.1",
        "commission_per_share": "0.005",
        "simulate_partial_fills": False,
        "simulate_rejections": False,
        "initial_balance": "100000",
    }
    pipeline.save()
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    assert engine.execution_run(execution_id=execution.pk, task_id="t", clock=clock) == "completed"

    trades = list(Trade.objects.filter(owner=owner, execution_id=execution.pk))
    assert trades, "the run should have opened at least one simulated position"
    entry_order = trades[0].entry_order
    assert entry_order.status == "filled"
    assert entry_order.slippage > 0
    assert entry_order.commission == (Decimal("0.005") * entry_order.filled_quantity).quantize(
        Decimal("0.01")
    )
    assert Position.objects.filter(owner=owner, status="open").count() == len(trades)

    provider = market_data_provider()
    for _ in range(6 * 60 * 4):  # sweep every 15 simulated seconds until everything is closed
        clock.advance(timedelta(seconds=15))
        positions_monitor_sweep(now=clock.now(), market_data=provider, executor_for=None)
        if not Position.objects.filter(owner=owner, status="open").exists():
            break
    # The synthetic market replays exactly for the manual clock: within the session every
    # position reaches its stop or a target.
    assert not Position.objects.filter(owner=owner, status="open").exists(), (
        "the monitor closed no position within six simulated hours"
    )

    for trade in Trade.objects.filter(owner=owner, execution_id=execution.pk):
        assert trade.status == "closed"
        assert trade.close_reason in {"stop_hit", "target_2_hit", "target_1_hit"}
        direction = 1 if trade.side == "long" else -1
        rest = trade.quantity - trade.partial_exit_quantity
        # Average exit of the rest, from the recorded average of all exits.
        total_exit_value = trade.exit_price * trade.quantity
        partial_value = (trade.partial_exit_price or 0) * trade.partial_exit_quantity
        rest_price = (total_exit_value - partial_value) / rest if rest else Decimal(0)
        gross = (
            (trade.partial_exit_price - trade.entry_price) * trade.partial_exit_quantity
            if trade.partial_exit_quantity
            else Decimal(0)
        ) + (rest_price - trade.entry_price) * rest
        assert abs(trade.realized_pnl - (gross * direction - trade.commission)) <= Decimal("0.02")
        if trade.close_reason == "stop_hit" and not trade.partial_exit_quantity:
            # A stop exit slips: it fills at or beyond the stop, never better.
            assert trade.exit_price * direction <= trade.stop_loss * direction
        exits = Order.objects.filter(owner=owner, symbol=trade.symbol).exclude(leg="entry")
        assert not exits.exists()  # simulated exits are ledger fills, not orders
        # The closing report of the position.
        assert Report.objects.filter(
            execution_id=execution.pk, report_type="trade_closed", title__startswith=trade.symbol
        ).exists()
