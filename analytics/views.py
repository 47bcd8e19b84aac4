"""Read-only pages over the ledger: the dashboard (active pipelines, today's runs, open positions
with live P&L, recent trades, today's spend against the budget), performance analytics, the
pipeline comparison, reports, costs and their exports."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render

from accounts.selectors import user_today, user_zone
from analytics import exports, pdf_jobs, presenters, selectors
from billing.selectors import estimates_accuracy, spend_summary
from pipelines import blueprints
from pipelines.models import PipelineStatus
from pipelines.selectors import execution_rows_for_user, pipeline_cards_for_user
from trading.keyset import keyset_page
from trading.models import Mode
from trading.presenters import position_rows, upsert_since
from trading.selectors import open_positions_summary, positions_for_user, trades_for_user

RECENT_TRADES = 8
DASHBOARD_POSITIONS = 20
TODAY_EXECUTIONS = 10


def _start_of_today(user) -> datetime:
    return datetime.combine(user_today(user), time.min, user_zone(user))


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
    # The newest open positions, with the totals of all of them: the page stays one size
    # however many positions are open (the positions page pages through the rest).
    newest_positions = keyset_page(
        positions_for_user(user=user), time_field="opened_at", size=DASHBOARD_POSITIONS
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


# --- Performance analytics (spec §12.3) ---------------------------------------------------------

TRADES_PER_PAGE = 25


def _scope_or_default(request, *, pipeline_ids=()) -> tuple[selectors.Scope, list[str]]:
    """The scope the query string asks for; bad input falls back to the defaults with a note
    naming the field (pages never 500 on a hand-edited URL)."""
    params = request.GET
    try:
        scope = selectors.scope_for(
            user=request.user,
            period=params.get("period"),
            start=params.get("start"),
            end=params.get("end"),
            mode=params.get("mode"),
            pipeline_ids=pipeline_ids,
        )
        return scope, []
    except ValidationError as error:
        problems = [f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items()]
        return selectors.scope_for(user=request.user, pipeline_ids=pipeline_ids), problems


def _trade_filters(request) -> dict[str, str]:
    return {
        key: request.GET.get(key, "").strip()
        for key in ("symbol", "side", "close_reason", "pipeline_id")
        if request.GET.get(key, "").strip()
    }


def _trades_page(request, scope, filters) -> dict:
    from django.core.paginator import Paginator

    trades = selectors.trades_for_table(
        scope,
        symbol=filters.get("symbol"),
        side=filters.get("side"),
        close_reason=filters.get("close_reason"),
        pipeline_id=filters.get("pipeline_id") if _is_uuid(filters.get("pipeline_id")) else None,
    )
    page = Paginator(trades, TRADES_PER_PAGE).get_page(request.GET.get("page"))
    return {"trades_page": page, "trade_filters": filters}


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _performance_context(request, scope, problems, pipeline=None) -> dict:
    perf = selectors.performance(scope)
    filters = _trade_filters(request)
    names = perf.pipeline_names
    context = {
        "scope": scope,
        "problems": problems,
        "perf": perf,
        "cards": presenters.cards(perf),
        "series": presenters.chart_series(perf),
        "panels": presenters.breakdown_panels(perf),
        "pipeline": pipeline,
        "pipeline_names": names,
        "periods": list(selectors.PERIOD_LABELS.items()),
        "modes": Mode.choices,
        "close_reasons": selectors.CLOSE_REASON_LABELS,
        "scope_query": urlencode(scope.query()),
        "filter_query": urlencode(scope.query(**filters)),
        "base_url": request.path,
        **_trades_page(request, scope, filters),
    }
    for trade in context["trades_page"]:
        trade.pipeline_name = names.get(str(trade.pipeline_id), "")
        trade.close_reason_label = selectors.CLOSE_REASON_LABELS.get(
            trade.close_reason, trade.close_reason
        )
    return context


def _render_performance(request, context):
    target = request.headers.get("HX-Target", "")
    if request.htmx and target == "analytics-trades":
        return render(request, "analytics/performance.html#trades", context)
    if request.htmx and target == "analytics-live":
        return render(request, "analytics/performance.html#live", context)
    if request.htmx and target == "analytics-body":
        return render(request, "analytics/performance.html#body", context)
    from analytics.backtests import backtests_with_results

    pipeline = context["pipeline"]
    context["backtests"] = backtests_with_results(
        user=request.user, pipeline_id=pipeline.pk if pipeline else None
    )
    return render(request, "analytics/performance.html", context)


@login_required
def performance(request):
    """The Analytics page: the user's performance in one mode over a period."""
    scope, problems = _scope_or_default(request)
    return _render_performance(request, _performance_context(request, scope, problems))


@login_required
def pipeline_performance(request, pipeline_id):
    """A pipeline's Performance tab: the same page, scoped to one pipeline (its own mode first)."""
    from django.http import Http404

    from pipelines.models import Pipeline
    from pipelines.selectors import pipeline_get

    try:
        pipeline = pipeline_get(user=request.user, pipeline_id=pipeline_id)
    except Pipeline.DoesNotExist:
        raise Http404("No such pipeline.") from None
    if "mode" not in request.GET:
        request.GET = request.GET.copy()
        request.GET["mode"] = pipeline.trading_mode
    scope, problems = _scope_or_default(request, pipeline_ids=[pipeline.pk])
    context = _performance_context(request, scope, problems, pipeline=pipeline)
    return _render_performance(request, context)


@login_required
def compare(request):
    """2–5 sources side by side — pipelines (their record in the mode chosen) and backtests — as
    a metrics table and their equity curves rebased to 100."""
    from analytics.backtests import backtests_with_results

    scope, problems = _scope_or_default(request)
    ids = [i for i in request.GET.getlist("ids") if i]
    backtest_ids = [i for i in request.GET.getlist("backtests") if i]
    options = selectors.pipeline_options(request.user)
    rows, problems = _compare_rows(request, scope, ids, backtest_ids, options, problems)
    chart = [{"name": row["name"], "data": row["series"]} for row in rows]
    metric_rows = []
    if rows:
        for index, card in enumerate(rows[0]["cards"]):
            metric_rows.append(
                {"label": card["label"], "cells": [row["cards"][index] for row in rows]}
            )
    context = {
        "scope": scope,
        "problems": problems,
        "options": options,
        "backtest_options": backtests_with_results(user=request.user),
        "metric_rows": metric_rows,
        "selected": set(ids) | set(backtest_ids),
        "rows": rows,
        "chart": chart,
        # Backtests replay other years: curves are laid side by side from their own start.
        "elapsed_axis": bool(backtest_ids),
        "periods": list(selectors.PERIOD_LABELS.items()),
        "modes": Mode.choices,
        "max_compared": selectors.MAX_COMPARED,
    }
    if request.htmx and request.headers.get("HX-Target") == "compare-body":
        return render(request, "analytics/compare.html#body", context)
    return render(request, "analytics/compare.html", context)


def _compare_rows(request, scope, ids, backtest_ids, options, problems):
    """One row per source: name, cards and rebased equity. A source that is not the user's is
    404; too few or too many, or a backtest without results, is a problem shown on the page."""
    from django.http import Http404

    from analytics import backtests
    from pipelines.models import Backtest, Pipeline

    if not ids and not backtest_ids:
        return [], problems
    try:
        pipeline_ids = selectors.validate_pipeline_ids(request.user, ids)
        chosen = backtests.validate_backtest_ids(user=request.user, raw_ids=backtest_ids)
        count = len(set(pipeline_ids)) + len(chosen)
        if not 2 <= count <= selectors.MAX_COMPARED:
            raise ValidationError(
                {"ids": f"Compare 2 to {selectors.MAX_COMPARED} pipelines or backtests."}
            )
    except ValidationError as error:
        return [], problems + [" ".join(m) for m in error.message_dict.values()]
    except (Pipeline.DoesNotExist, Backtest.DoesNotExist):
        raise Http404("No such pipeline or backtest.") from None
    names = {str(o["id"]): o["name"] for o in options}
    rows = []
    for pipeline_id in dict.fromkeys(pipeline_ids):
        perf = selectors.performance(scope.with_pipelines([pipeline_id]))
        name = names.get(pipeline_id, "")
        if chosen:  # beside backtests, say which record of the pipeline this is
            name += f" ({scope.mode.lower()} record)"
        rows.append(_compare_row(name, perf=perf))
    for backtest in chosen:
        perf = backtests.backtest_performance(user=request.user, backtest=backtest)
        rows.append(_compare_row(*backtests.backtest_label(backtest), perf=perf))
    return rows, problems


def _compare_row(name: str, detail: str = "", *, perf) -> dict:
    return {
        "name": name,
        "detail": detail,
        "perf": perf,
        "cards": presenters.cards(perf),
        "series": presenters.rebased_series(perf),
    }


@login_required
def reports(request):
    """Every report of the user's runs, newest first (before, reachable only from its run)."""
    from django.core.paginator import Paginator

    from pipelines.selectors import reports_for_user

    page = Paginator(reports_for_user(user=request.user).order_by("-created_at"), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "analytics/reports.html", {"page": page})


@login_required
def costs(request):
    """The cost ledger as the user sees it: per day, pipeline, agent and model, against budgets."""
    scope, problems = _scope_or_default(request)
    context = {
        "scope": scope,
        "problems": problems,
        "periods": list(selectors.PERIOD_LABELS.items()),
        "scope_query": urlencode(scope.query()),
        **selectors.cost_breakdown(scope),
        "spend": spend_summary(owner=request.user),
    }
    context["daily_share"] = _budget_share(
        context["spend"]["today"], request.user.budget_limit_daily
    )
    context["monthly_share"] = _budget_share(
        context["spend"]["month"], request.user.budget_limit_monthly
    )
    if request.htmx and request.headers.get("HX-Target") == "costs-body":
        return render(request, "analytics/costs.html#body", context)
    # The estimates' accuracy (last 30 days) sits outside the period's fragment.
    context["accuracy"] = estimates_accuracy(owner=request.user)
    return render(request, "analytics/costs.html", context)


# --- Exports --------------------------------------------------------------------------------------


@login_required
def export_trades_csv(request):
    scope, _ = _scope_or_default(request, pipeline_ids=_pipeline_param(request))
    return exports.trades_csv_response(scope, _trade_filters(request))


@login_required
def export_equity_csv(request):
    scope, _ = _scope_or_default(request, pipeline_ids=_pipeline_param(request))
    perf = selectors.performance(scope)
    if request.GET.get("per") == "trade":
        return exports.equity_per_trade_csv_response(perf)
    return exports.equity_csv_response(perf)


@login_required
def export_costs_csv(request):
    scope, _ = _scope_or_default(request)
    return exports.costs_csv_response(scope)


@login_required
def export_pdf(request):
    """The performance PDF: built here when small; a large one is built by a worker while a
    page shows its progress and then the download link."""
    from django.shortcuts import redirect

    scope, _ = _scope_or_default(request, pipeline_ids=_pipeline_param(request))
    perf = selectors.performance(scope)
    if len(perf.book) <= pdf_jobs.PDF_INLINE_LIMIT:
        return exports.pdf_response(perf)
    params = {
        "period": scope.period,
        "mode": scope.mode,
        "start": scope.first_day.isoformat() if scope.period == "CUSTOM" else None,
        "end": scope.last_day.isoformat() if scope.period == "CUSTOM" else None,
        "pipeline_ids": [str(p) for p in scope.pipeline_ids],
    }
    job_id = pdf_jobs.pdf_job_start(user=request.user, params=params)
    return redirect("analytics:pdf-job", job_id=job_id)


@login_required
def pdf_job(request, job_id):
    from django.http import Http404

    job = pdf_jobs.pdf_job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such report.")
    context = {"job": job, "job_id": job_id}
    if request.htmx:
        return render(request, "analytics/pdf_job.html#status", context)
    return render(request, "analytics/pdf_job.html", context)


@login_required
def pdf_job_download(request, job_id):
    from django.http import Http404, HttpResponse

    job = pdf_jobs.pdf_job_get(user=request.user, job_id=job_id)
    if job is None or job.get("status") != "done":
        raise Http404("No such report.")
    response = HttpResponse(job["content"], content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{job["filename"]}"'
    return response


def _pipeline_param(request) -> list[str]:
    from django.http import Http404

    from pipelines.models import Pipeline

    raw = request.GET.get("pipeline")
    if not raw:
        return []
    try:
        return selectors.validate_pipeline_ids(request.user, [raw])
    except (ValidationError, Pipeline.DoesNotExist):
        raise Http404("No such pipeline.") from None


def live_analytics_fragments(*, payload: dict) -> list[str]:
    """A closed trade changes the cards and the curve: the socket sends a signal element and the
    page re-requests its live partial for the period and mode on screen (the socket does not
    know them; the page does), rendered by the same view as on load."""
    from django.utils.html import format_html

    from trading.live_positions import changed_positions

    closed = [p for p in changed_positions(payload) if p.get("status") == "closed"]
    if not closed:
        return []
    return [
        format_html(
            '<div id="analytics-signal" hx-swap-oob="true" hidden data-closed="{}"></div>',
            ",".join(str(p.get("id", "")) for p in closed),
        )
    ]


# --- Backtests ------------------------------------------------------------------------------------


@login_required
def backtest_results(request, backtest_id):
    """A backtest's figures on analytics' own cards, charts and breakdowns; an htmx request
    (the backtest page loading them) gets the figures alone."""
    from django.http import Http404

    from analytics import backtests
    from pipelines.models import Backtest

    try:
        backtest = backtests.backtest_for_results(user=request.user, backtest_id=backtest_id)
    except Backtest.DoesNotExist:
        raise Http404("No such backtest.") from None
    context = {"backtest": backtest, "perf": None}
    if backtests.has_results(backtest):
        perf = backtests.backtest_performance(user=request.user, backtest=backtest)
        context.update(
            perf=perf,
            cards=presenters.cards(perf),
            series=presenters.chart_series(perf),
            panels=presenters.breakdown_panels(perf),
        )
    if request.htmx:
        return render(request, "analytics/backtest.html#figures", context)
    return render(request, "analytics/backtest.html", context)
