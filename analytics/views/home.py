"""The dashboard, the home page: active pipelines, today's runs, open positions with live P&L,
recent trades and today's spend against the budget."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.selectors import user_today, user_zone
from analytics.views.helpers import budget_shares
from billing.selectors import spend_summary
from pipelines import blueprints
from pipelines.models import PipelineStatus
from pipelines.selectors import execution_rows_for_user, pipeline_cards_for_user
from trading.keyset import keyset_page
from trading.presenters import position_rows, upsert_since
from trading.selectors import open_positions_summary, positions_for_user, trades_for_user

RECENT_TRADES = 8
DASHBOARD_POSITIONS = 20
TODAY_EXECUTIONS = 10


def _start_of_today(user) -> datetime:
    return datetime.combine(user_today(user), time.min, user_zone(user))


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
    # The newest open positions, with the totals of all of them: the page stays one size
    # however many positions are open (the positions page pages through the rest).
    newest_positions = keyset_page(
        positions_for_user(user=user), key_field="opened_at", size=DASHBOARD_POSITIONS
    )
    positions = position_rows(newest_positions.rows)
    open_positions = open_positions_summary(user=user)
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
        "open_count": open_positions["count"],
        "more_positions": open_positions["count"] - len(positions),
        "upsert_since": upsert_since(newest_positions),
        "total_unrealized": open_positions["unrealized"],
        "trades": trades,
        "spend": spend,
        **budget_shares(user, spend),
    }


@login_required
def dashboard(request):
    context = _dashboard_context(request.user)
    if request.htmx:
        return render(request, "analytics/dashboard.html#live", context)
    context["blueprints"] = blueprints.all_blueprints()
    return render(request, "analytics/dashboard.html", context)
