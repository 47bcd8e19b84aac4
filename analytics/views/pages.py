"""The analytics pages (spec §12.3): performance (the user's, or a pipeline's tab), a backtest's
results, the comparison of pipelines and backtests, the reports and the costs."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from analytics import backtests, presenters, selectors
from analytics.views.helpers import budget_shares, scope_or_default, trade_filters
from billing.selectors import estimates_accuracy, spend_summary
from pipelines.models import Backtest, Pipeline
from pipelines.selectors import pipeline_capitals_for_user, pipeline_get, reports_for_user
from trading.models import Mode

TRADES_PER_PAGE = 25


def _trades_page(request, scope, filters) -> dict:
    trades = selectors.trades_for_table(scope, filters)
    page = Paginator(trades, TRADES_PER_PAGE).get_page(request.GET.get("page"))
    return {"trades_page": page, "trade_filters": filters}


def _performance_context(request, scope, problems, pipeline=None) -> dict:
    perf = selectors.performance(scope)
    filters = trade_filters(request)
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

    pipeline = context["pipeline"]
    context["backtests"] = backtests.backtests_with_results(
        user=request.user, pipeline_id=pipeline.pk if pipeline else None
    )
    return render(request, "analytics/performance.html", context)


@login_required
def performance(request):
    """The Analytics page: the user's performance in one mode over a period."""
    scope, problems = scope_or_default(request)
    return _render_performance(request, _performance_context(request, scope, problems))


@login_required
def pipeline_performance(request, pipeline_id):
    """A pipeline's Performance tab: the same page, scoped to one pipeline (its own mode first)."""
    try:
        pipeline = pipeline_get(user=request.user, pipeline_id=pipeline_id)
    except Pipeline.DoesNotExist:
        raise Http404("No such pipeline.") from None
    if "mode" not in request.GET:
        request.GET = request.GET.copy()
        request.GET["mode"] = pipeline.trading_mode
    scope, problems = scope_or_default(request, pipeline_ids=[pipeline.pk])
    context = _performance_context(request, scope, problems, pipeline=pipeline)
    return _render_performance(request, context)


@login_required
def compare(request):
    """2–5 sources side by side — pipelines (their record in the mode chosen) and backtests — as
    a metrics table and their equity curves rebased to 100."""
    scope, problems = scope_or_default(request)
    ids = [i for i in request.GET.getlist("ids") if i]
    backtest_ids = [i for i in request.GET.getlist("backtests") if i]
    options = pipeline_capitals_for_user(user=request.user)
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
        "backtest_options": backtests.backtests_with_results(user=request.user),
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
    page = Paginator(reports_for_user(user=request.user).order_by("-created_at"), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "analytics/reports.html", {"page": page})


@login_required
def costs(request):
    """The cost ledger as the user sees it: per day, pipeline, agent and model, against budgets."""
    scope, problems = scope_or_default(request)
    spend = spend_summary(owner=request.user)
    context = {
        "scope": scope,
        "problems": problems,
        "periods": list(selectors.PERIOD_LABELS.items()),
        "scope_query": urlencode(scope.query()),
        **selectors.cost_breakdown(scope),
        "spend": spend,
        **budget_shares(request.user, spend),
    }
    if request.htmx and request.headers.get("HX-Target") == "costs-body":
        return render(request, "analytics/costs.html#body", context)
    # The estimates' accuracy (last 30 days) sits outside the period's fragment.
    context["accuracy"] = estimates_accuracy(owner=request.user)
    return render(request, "analytics/costs.html", context)


@login_required
def backtest_results(request, backtest_id):
    """A backtest's figures on analytics' own cards, charts and breakdowns; an htmx request
    (the backtest page loading them) gets the figures alone."""
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
