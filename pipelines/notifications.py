"""What traders hear on their channels: fills, stops, targets, failed runs, budget refusals, and
an end-of-day summary (trades, P&L, costs) once the trading session has closed.

The receivers run after the ledger committed (the trading hooks are sent on commit) and only
queue deliveries (`accounts.channels.channels_notify`); Celery sends them, so a slow or broken
channel never holds a run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from accounts.channels import channels_notify, daily_summary_claim, daily_summary_owner_ids
from accounts.models import TraderEvent
from billing.models import DailyCost
from pipelines.models import ExecutionStatus, PipelineExecution
from trading.calendar import last_closed_session
from trading.models import CloseReason, Trade
from trading.money import cost, money, signed_money

logger = logging.getLogger(__name__)

_CLOSE_EVENTS = {
    CloseReason.STOP_HIT: TraderEvent.STOPS,
    CloseReason.TARGET_1_HIT: TraderEvent.TARGETS,
    CloseReason.TARGET_2_HIT: TraderEvent.TARGETS,
}
# The budget gate's and the per-run meter's refusals start so (agents/builtin/pipeline_manager.py,
# agents/metering.py).
_BUDGET_PREFIXES = ("Budget:", "Per-run token budget", "Per-run cost budget")


def _price(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def trade_opened_notify(*, trade_id) -> int:
    trade = Trade.objects.filter(pk=trade_id).first()
    if trade is None:
        return 0
    side = "Bought" if trade.side == "long" else "Sold short"
    return channels_notify(
        owner_id=trade.owner_id,
        event=TraderEvent.FILLS,
        title=f"{trade.symbol}: {side.lower()} {trade.quantity} @ {_price(trade.entry_price)}",
        body=(
            f"{side} {trade.quantity} {trade.symbol} at {_price(trade.entry_price)} "
            f"({trade.trading_mode}). Stop {_price(trade.stop_loss)}, targets "
            f"{_price(trade.target_1)} / {_price(trade.target_2)}."
        ),
    )


def trades_closed_notify(*, trade_ids) -> int:
    queued = 0
    for trade in Trade.objects.filter(pk__in=trade_ids):
        event = _CLOSE_EVENTS.get(trade.close_reason, TraderEvent.FILLS)
        reason = trade.get_close_reason_display() or "Closed"
        queued += channels_notify(
            owner_id=trade.owner_id,
            event=event,
            title=f"{trade.symbol}: {reason.lower()}, P&L {signed_money(trade.realized_pnl)}",
            body=(
                f"{trade.symbol} {trade.side} closed ({reason}) at {_price(trade.exit_price)} "
                f"after entering at {_price(trade.entry_price)} ({trade.trading_mode}). "
                f"Realised P&L {signed_money(trade.realized_pnl)}."
            ),
        )
    return queued


def execution_failed_notify(*, execution_id) -> int:
    row = (
        PipelineExecution.objects.filter(pk=execution_id, status=ExecutionStatus.FAILED)
        .values_list("owner_id", "pipeline__name", "error")
        .first()
    )
    if row is None:
        return 0
    owner_id, pipeline_name, error = row
    budget = error.startswith(_BUDGET_PREFIXES)
    return channels_notify(
        owner_id=owner_id,
        event=TraderEvent.BUDGET if budget else TraderEvent.ERRORS,
        title=f"“{pipeline_name}” {'stopped by a budget' if budget else 'run failed'}",
        body=error or "The run failed.",
    )


def daily_summaries_send(*, now: datetime | None = None) -> int:
    """After a session closes, each trader with a channel that chose the daily summary gets one
    message about that session; a channel is claimed for the day before it is queued, so two
    beats (or two sweeps) never send it twice."""
    now = now or timezone.now()
    session = last_closed_session(now)
    if session is None:
        return 0
    sent = 0
    for owner_id in daily_summary_owner_ids(session=session):
        claimed = daily_summary_claim(owner_id=owner_id, session=session)
        if claimed:
            title, body = daily_summary(owner_id=owner_id, session=session)
            sent += channels_notify(
                owner_id=owner_id, event=TraderEvent.DAILY_SUMMARY, title=title, body=body
            )
    return sent


def daily_summary(*, owner_id, session) -> tuple[str, str]:
    """Title and text of one trader's summary of `session` (a date): trades opened and closed
    that day, realised P&L, and what agents and models cost."""
    opened = Trade.objects.filter(owner_id=owner_id, opened_at__date=session).count()
    closed = Trade.objects.filter(owner_id=owner_id, closed_at__date=session)
    totals = closed.aggregate(pnl=Sum("realized_pnl"), commission=Sum("commission"))
    wins = closed.filter(realized_pnl__gt=0).count()
    costs = DailyCost.objects.filter(owner_id=owner_id, day=session).aggregate(
        total=Sum("total_cost")
    )["total"] or Decimal(0)
    pnl = totals["pnl"] or Decimal(0)
    closed_count = closed.count()
    lines = [
        f"Trades opened: {opened}",
        f"Trades closed: {closed_count}" + (f" ({wins} winning)" if closed_count else ""),
        f"Realised P&L: {signed_money(pnl)}",
        f"Commissions: {money(totals['commission'] or Decimal(0))}",
        f"Agent and model costs: {cost(costs)}",
    ]
    return f"Tradecrew daily summary {session:%Y-%m-%d}: P&L {signed_money(pnl)}", "\n".join(lines)


# --- receivers (connected in PipelinesConfig.ready) ---------------------------------------------


# They run among other after-commit work (run modes, reports): a notification problem is logged
# and never stops the rest.


def on_trade_opened(sender, trade_id, **kwargs):
    try:
        trade_opened_notify(trade_id=trade_id)
    except Exception:
        logger.exception("notifications: trade %s opened", trade_id)


def on_trades_closed(sender, trade_ids, **kwargs):
    try:
        trades_closed_notify(trade_ids=trade_ids)
    except Exception:
        logger.exception("notifications: trades %s closed", trade_ids)


def on_execution_finished(sender, execution_id, **kwargs):
    try:
        execution_failed_notify(execution_id=execution_id)
    except Exception:
        logger.exception("notifications: execution %s finished", execution_id)
