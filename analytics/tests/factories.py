"""Closed trades, pipelines and ledger rows for analytics tests and the benchmark."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import CostEntry
from pipelines.models import Pipeline
from pipelines.tests.factories import minimal_graph
from trading.models import Trade


def pipeline(owner, name="Crew", **fields) -> Pipeline:
    fields.setdefault("graph", minimal_graph())
    return Pipeline.objects.create(owner=owner, name=name, **fields)


def closed_trade(
    owner,
    *,
    net,
    closed_at: datetime | None = None,
    hours: float = 2,
    pipeline=None,
    symbol="AAPL",
    side="long",
    mode="SIMULATION",
    commission="1.00",
    slippage="0.10",
    close_reason="target_1_hit",
    quantity=10,
    entry_price="100",
    build_only=False,
) -> Trade:
    """A closed round trip with net P&L `net` (realized P&L is after commission, as the ledger
    records it), closed at `closed_at` (default now) after `hours`."""
    closed_at = closed_at or timezone.now()
    net = Decimal(str(net))
    entry = Decimal(entry_price)
    gross = net + Decimal(commission)
    per_share = gross / quantity * (1 if side == "long" else -1)
    trade = Trade(
        owner=owner,
        trading_mode=mode,
        pipeline_id=pipeline.pk if pipeline is not None else None,
        symbol=symbol,
        side=side,
        quantity=quantity,
        remaining_quantity=0,
        requested_entry_price=entry,
        entry_price=entry,
        stop_loss=entry - 2,
        initial_stop_loss=entry - 2,
        target_1=entry + 2,
        target_2=entry + 4,
        exit_price=(entry + per_share).quantize(Decimal("0.0001")),
        close_reason=close_reason,
        status="closed",
        realized_pnl=net,
        commission=Decimal(commission),
        slippage_cost=Decimal(slippage),
        monitoring_active=False,
        opened_at=closed_at - timedelta(hours=hours),
        closed_at=closed_at,
    )
    if build_only:
        return trade
    trade.save()
    return trade


def many_closed_trades(owner, count: int, *, days: int = 365, pipelines=(), seed: int = 17):
    """`count` closed trades spread over the last `days` days (bulk-created)."""
    rng = random.Random(seed)
    now = timezone.now()
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "SPY", "QQQ"]
    reasons = ["stop_hit", "target_1_hit", "target_2_hit", "end_of_day", "manual"]
    trades = []
    for _ in range(count):
        closed_at = now - timedelta(minutes=rng.randrange(1, days * 24 * 60))
        trades.append(
            closed_trade(
                owner,
                net=Decimal(rng.randrange(-9000, 11000)) / 100,
                closed_at=closed_at,
                hours=rng.choice([0.5, 1, 2, 4]),
                pipeline=rng.choice(pipelines) if pipelines else None,
                symbol=rng.choice(symbols),
                side=rng.choice(["long", "short"]),
                close_reason=rng.choice(reasons),
                build_only=True,
            )
        )
    Trade.objects.bulk_create(trades, batch_size=2000)
    return trades


def cost(owner, amount, *, pipeline=None, execution=None, agent_type="bias", model="", at=None):
    entry = CostEntry.objects.create(
        owner=owner,
        pipeline_id=pipeline.pk if pipeline is not None else None,
        execution_id=execution.pk if execution is not None else None,
        agent_type=agent_type,
        cost_type="llm_tokens" if model else "agent_rental",
        quantity=Decimal("1"),
        unit_cost=Decimal(str(amount)),
        total_cost=Decimal(str(amount)),
        metadata={"model": model} if model else {},
    )
    if at is not None:
        CostEntry.objects.filter(pk=entry.pk).update(created_at=at)
    return entry
