"""Reports written outside a run: the closing report of a trade (reasoning chain and outcome)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from pipelines.models import PipelineExecution, Report
from trading.models import Trade
from trading.money import money, signed_money

REASONS = {
    "stop_hit": "the stop loss was hit",
    "target_1_hit": "target 1 was reached",
    "target_2_hit": "target 2 was reached",
    "manual": "it was closed by hand",
    "emergency_close_all": "all positions were closed by hand",
    "end_of_day": "the trading window ended",
    "budget_exhausted": "the budget ran out",
    "broker": "it was closed at the broker",
}


def trade_outcome(trade: Trade) -> dict:
    direction = 1 if trade.side == "long" else -1
    invested = trade.entry_price * trade.quantity
    return_pct = (
        (trade.realized_pnl / invested * 100).quantize(Decimal("0.01")) if invested else Decimal(0)
    )
    risk = abs(trade.entry_price - trade.initial_stop_loss) * trade.quantity
    return {
        "symbol": trade.symbol,
        "side": trade.side,
        "quantity": trade.quantity,
        "entry_price": str(trade.entry_price),
        "exit_price": str(trade.exit_price),
        "partial_exit": {
            "quantity": trade.partial_exit_quantity,
            "price": str(trade.partial_exit_price) if trade.partial_exit_price else None,
        },
        "close_reason": trade.close_reason,
        "realized_pnl": str(trade.realized_pnl),
        "return_pct": str(return_pct),
        "r_multiple": str((trade.realized_pnl / risk).quantize(Decimal("0.01"))) if risk else None,
        "commission": str(trade.commission),
        "direction": direction,
        "opened_at": trade.opened_at.isoformat(),
        "closed_at": trade.closed_at.isoformat() if trade.closed_at else None,
    }


def trade_summary(trade: Trade) -> str:
    outcome = trade_outcome(trade)
    parts = [
        f"{trade.symbol} {trade.side} {trade.quantity} @ {trade.entry_price} closed because "
        f"{REASONS.get(trade.close_reason, trade.close_reason or 'it was closed')}."
    ]
    if trade.partial_exit_quantity:
        parts.append(
            f"{trade.partial_exit_quantity} shares were taken at target 1 "
            f"({trade.partial_exit_price})."
        )
    parts.append(
        f"Realized P&L {signed_money(trade.realized_pnl)} ({outcome['return_pct']}%), net of "
        f"{money(trade.commission)} commission; average exit {trade.exit_price}."
    )
    return " ".join(parts)


@transaction.atomic
def trade_report_create(*, trade: Trade) -> Report | None:
    """The reporting step for a closed position: the run's reasoning chain plus the outcome."""
    if trade.execution_id is None:
        return None
    execution = (
        PipelineExecution.objects.filter(pk=trade.execution_id).select_related("pipeline").first()
    )
    if execution is None:
        return None
    chain = execution.state.get("reports", {}).get(trade.symbol) if execution.state else None
    return Report.objects.create(
        execution=execution,
        pipeline=execution.pipeline,
        owner_id=trade.owner_id,
        report_type="trade_closed",
        title=f"{trade.symbol} closed — {REASONS.get(trade.close_reason, trade.close_reason)}",
        summary=trade_summary(trade),
        full_report={"outcome": trade_outcome(trade), "reasoning_chain": chain or {}},
    )
