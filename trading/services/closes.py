"""Closes: emergency closes (one or all), end-of-day flattening and its EODAction record."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from uuid import UUID

from django.utils import timezone

from accounts.models import User
from trading.executors.base import (
    ExecutionError,
)
from trading.models import (
    CloseReason,
    EODAction,
    ManualIntervention,
    Position,
    PositionStatus,
)
from trading.services.amounts import cents
from trading.services.positions import position_close_now

logger = logging.getLogger(__name__)


# --- Closes and the end of day ----------------------------------------------------------------
@dataclass
class CloseResult:
    symbol: str
    trading_mode: str
    status: str  # closed | error
    quantity: int = 0
    fill_price: Decimal | None = None
    realized_pnl: Decimal = Decimal("0")
    error: str = ""


def _close_one(position: Position, executor_for, reason: str, tag: str, now) -> CloseResult:
    quantity = position.quantity
    try:
        executor = executor_for(position)
        realized = position_close_now(
            position=position,
            executor=executor,
            reason=reason,
            client_order_id=f"tc-{tag}-{position.pk}-{int(now.timestamp())}"[:48],
            now=now,
        )
    except ExecutionError as error:
        return CloseResult(position.symbol, position.trading_mode, "error", error=str(error))
    position.refresh_from_db()
    return CloseResult(
        position.symbol,
        position.trading_mode,
        "closed",
        quantity=quantity,
        fill_price=position.current_price,
        realized_pnl=realized,
    )


def position_emergency_close(
    *, owner: User, position: Position, reason: str, executor_for, now: datetime | None = None
) -> CloseResult:
    """Close one position now, stop monitoring it, and audit the intervention."""
    now = now or timezone.now()
    result = _close_one(position, executor_for, CloseReason.MANUAL, "close", now)
    ManualIntervention.objects.create(
        owner=owner,
        trading_mode=position.trading_mode,
        symbol=position.symbol,
        action="emergency_close",
        reason=reason,
        positions_affected=1 if result.status == "closed" else 0,
        metadata={
            "position_id": position.pk,
            "status": result.status,
            "quantity": result.quantity,
            "fill_price": str(result.fill_price) if result.fill_price is not None else None,
            "realized_pnl": str(result.realized_pnl),
            "error": result.error,
        },
    )
    return result


def positions_emergency_close_all(
    *, owner: User, positions: list[Position], reason: str, executor_for, now=None
) -> list[CloseResult]:
    now = now or timezone.now()
    results = [
        _close_one(position, executor_for, CloseReason.EMERGENCY_ALL, "closeall", now)
        for position in positions
    ]
    ManualIntervention.objects.create(
        owner=owner,
        action="emergency_close_all",
        reason=reason,
        positions_affected=sum(1 for r in results if r.status == "closed"),
        metadata={
            "results": [
                {
                    "symbol": r.symbol,
                    "mode": r.trading_mode,
                    "status": r.status,
                    "realized_pnl": str(r.realized_pnl),
                    "error": r.error,
                }
                for r in results
            ]
        },
    )
    return results


def pipeline_flatten(
    *,
    owner: User,
    pipeline_id: UUID,
    reason: str,
    executor_for,
    pipeline_stopped: bool = False,
    now: datetime | None = None,
    day: date | None = None,
    zone: tzinfo | None = None,
) -> EODAction:
    """End of day: close the open positions this pipeline opened and record an EODAction for
    `day` (by default today in `zone`, the pipeline's window zone, else the active zone)."""
    now = now or timezone.now()
    positions = list(
        Position.objects.filter(owner=owner, pipeline_id=pipeline_id, status=PositionStatus.OPEN)
    )
    results = [_close_one(p, executor_for, CloseReason.END_OF_DAY, "eod", now) for p in positions]
    return eod_action_record(
        owner=owner,
        pipeline_id=pipeline_id,
        now=now,
        day=day,
        zone=zone,
        positions_closed=sum(1 for r in results if r.status == "closed"),
        total_pnl=cents(sum((r.realized_pnl for r in results), Decimal("0"))),
        pipeline_stopped=pipeline_stopped,
        failed_symbols=[r.symbol for r in results if r.status == "error"],
        reason=reason,
    )


def eod_action_record(
    *,
    owner: User,
    pipeline_id: UUID,
    now: datetime,
    reason: str,
    day: date | None = None,
    zone: tzinfo | None = None,
    **outcome,
) -> EODAction:
    """Record what end-of-day handling did for a pipeline, dated `day` (default: the local date
    of `now` in `zone`, else the active zone) at the local time of `now`."""
    local = now.astimezone(zone) if zone is not None else timezone.localtime(now)
    return EODAction.objects.create(
        owner=owner,
        pipeline_id=pipeline_id,
        action_date=day or local.date(),
        action_time=local.time().replace(microsecond=0),
        reason=reason,
        **outcome,
    )


def pipeline_positions_close(
    *, owner: User, pipeline_id: UUID, reason: str, executor_for, now: datetime | None = None
) -> list[CloseResult]:
    """Close every open position this pipeline opened, now, with close reason `reason`."""
    now = now or timezone.now()
    positions = Position.objects.filter(
        owner=owner, pipeline_id=pipeline_id, status=PositionStatus.OPEN
    )
    return [_close_one(p, executor_for, reason, reason, now) for p in positions]
