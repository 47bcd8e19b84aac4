"""Read-only pages over the ledger: the dashboard (active pipelines, today's runs, open positions
with live P&L, recent trades, today's spend against the budget)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from billing.selectors import spend_summary
from pipelines import blueprints
from pipelines.models import PipelineStatus
from pipelines.selectors import execution_rows_for_user, pipeline_cards_for_user
from trading.selectors import positions_for_user, trades_for_user
from trading.views import position_rows

RECENT_TRADES = 8
TODAY_EXECUTIONS = 10


def _start_of_today(user) -> datetime:
    try:
        zone = zoneinfo.ZoneInfo(user.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("America/New_York")
    today = timezone.now().astimezone(zone).date()
    return datetime.combine(today, time.min, zone)


def _budget_share(spent: Decimal, limit: Decimal | None) -> int | None:
    if not limit:
        return None
    return min(100, int(spent / limit * 100))


def _dashboard_context(user) -> dict:
    pipelines = list(
        pipeline_cards_for_user(user=user).exclude(status=PipelineStatus.ARCHIVED)[:50]
    )
    active = [p for p in pipelines if p.status == PipelineStatus.ACTIVE]
    executions = list(
        execution_rows_for_user(user=user).filter(created_at__gte=_start_of_today(user))[
            : TODAY_EXECUTIONS + 1
        ]
    )
    positions = position_rows(list(positions_for_user(user=user)))
    trades = list(trades_for_user(user=user)[:RECENT_TRADES])
    names = {p.pk: p.name for p in pipelines}
    for trade in trades:
        trade.pipeline_name = names.get(trade.pipeline_id, "")
    spend = spend_summary(owner=user)
    return {
        "has_pipelines": bool(pipelines),
        "pipelines": pipelines,
        "active_pipelines": active,
        "executions": executions[:TODAY_EXECUTIONS],
        "more_executions": len(executions) > TODAY_EXECUTIONS,
        "positions": positions,
        "total_unrealized": sum((p.unrealized_pnl for p in positions), Decimal("0")),
        "trades": trades,
        "spend": spend,
        "daily_share": _budget_share(spend["today"], user.budget_limit_daily),
        "monthly_share": _budget_share(spend["month"], user.budget_limit_monthly),
    }


@login_required
def dashboard(request):
    context = _dashboard_context(request.user)
    if request.htmx:
        return render(request, "analytics/dashboard.html#live", context)
    context["blueprints"] = blueprints.all_blueprints()
    return render(request, "analytics/dashboard.html", context)
