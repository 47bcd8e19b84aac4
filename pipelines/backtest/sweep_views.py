"""Parameter sweep pages: start one from the backtest form's grid, its progress with the
sortable results table and the heatmap (also pushed live), cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from pipelines.backtest import selectors, sweep_services
from pipelines.backtest.checks import BacktestRefused
from pipelines.backtest.forms import BacktestForm, form_grid
from pipelines.backtest.views import pipeline_or_404
from pipelines.models import BacktestSweep

# Column → how a row ranks, best first (drawdown: the smallest first).
SWEEP_SORTS = {
    "equity": lambda row: row.final_equity,
    "trades": lambda row: row.trades_count,
    "pnl": lambda row: row.net_pnl,
    "return": lambda row: (row.metrics or {}).get("return_pct"),
    "drawdown": lambda row: (
        None
        if (row.metrics or {}).get("max_drawdown_pct") is None
        else -row.metrics["max_drawdown_pct"]
    ),
}


@login_required
@require_POST
def sweep_start(request, pipeline_id):
    """A grid of up to two config values (node_id.field = comma-separated values)."""
    pipeline = pipeline_or_404(request, pipeline_id)
    form = BacktestForm(request.POST, user=request.user)
    grid = form_grid(request.POST)
    if not form.is_valid():
        messages.error(request, "The sweep was not started: check the backtest settings.")
        return redirect("pipelines:backtests", pipeline_id=pipeline.pk)
    try:
        sweep = sweep_services.sweep_create(
            owner=request.user,
            pipeline=pipeline,
            dataset=form.cleaned_data["dataset"],
            grid=grid,
            settings=form.settings(timezone.get_current_timezone()),
        )
    except BacktestRefused as error:
        messages.error(request, f"The sweep was not started: {error}")
        return redirect("pipelines:backtests", pipeline_id=pipeline.pk)
    return redirect("pipelines:sweep", sweep_id=sweep.pk)


def sweep_or_404(request, sweep_id) -> BacktestSweep:
    try:
        return selectors.sweep_get(user=request.user, sweep_id=sweep_id)
    except BacktestSweep.DoesNotExist:
        raise Http404("No such sweep.") from None


def _heatmap(sweep: BacktestSweep, keys: list, rows: list) -> dict | None:
    """Final equity by the two swept values, shaded from the worst (red) to the best (green)."""
    if len(keys) != 2:
        return None
    xs, ys = sweep.grid[keys[0]], sweep.grid[keys[1]]
    by_cell = {
        (str(row.parameters.get(keys[0])), str(row.parameters.get(keys[1]))): row for row in rows
    }
    finals = [float(r.final_equity) for r in rows if r.final_equity is not None]
    low, high = (min(finals), max(finals)) if finals else (0.0, 0.0)

    def shade(row):
        if row is None or row.final_equity is None or high == low:
            return 50
        return int(100 * (float(row.final_equity) - low) / (high - low))

    return {
        "x": keys[0],
        "y": keys[1],
        "xs": xs,
        "rows": [
            {
                "y": y,
                "cells": [
                    {
                        "row": by_cell.get((str(x), str(y))),
                        "shade": shade(by_cell.get((str(x), str(y)))),
                    }
                    for x in xs
                ],
            }
            for y in ys
        ],
    }


def sweep_context(sweep: BacktestSweep, sort: str = "equity") -> dict:
    """Progress (combinations finished of all, ETA), the sortable table and the heatmap."""
    sweep = sweep_services.sweep_refresh(sweep=sweep)
    rows = selectors.sweep_rows(sweep=sweep)
    sort = sort if sort in SWEEP_SORTS else "equity"
    rank = SWEEP_SORTS[sort]
    rows.sort(key=lambda row: (rank(row) is None, -(rank(row) or 0)))
    keys = sorted(sweep.grid)
    finished = sum(1 for row in rows if row.is_finished)
    eta_seconds = None
    if sweep.status == "running" and finished:
        started = min((row.started_at for row in rows if row.started_at), default=None)
        if started is not None:
            elapsed = (timezone.now() - started).total_seconds()
            eta_seconds = int(elapsed / finished * (sweep.combinations - finished))
    return {
        "sweep": sweep,
        "rows": rows,
        "keys": keys,
        "sort": sort,
        "heatmap": _heatmap(sweep, keys, rows),
        "finished": finished,
        "running": sum(1 for row in rows if row.status == "running"),
        "cancelled": sum(1 for row in rows if row.status == "cancelled"),
        "progress_pct": int(100 * finished / sweep.combinations) if sweep.combinations else 0,
        "eta_seconds": eta_seconds,
    }


@login_required
def sweep_detail(request, sweep_id):
    context = sweep_context(sweep_or_404(request, sweep_id), request.GET.get("sort", "equity"))
    if request.htmx:
        return render(request, "pipelines/sweep.html#live", context)
    return render(request, "pipelines/sweep.html", context)


@login_required
@require_POST
def sweep_cancel(request, sweep_id):
    sweep = sweep_services.sweep_cancel(sweep=sweep_or_404(request, sweep_id))
    messages.info(
        request,
        "Sweep cancelled: waiting combinations will not run."
        if sweep.status == "cancelled"
        else "The sweep had already finished.",
    )
    return redirect("pipelines:sweep", sweep_id=sweep.pk)


def sweep_live_fragment(*, user, sweep_id) -> list[str]:
    from django.core.exceptions import ValidationError
    from django.template.loader import render_to_string

    try:
        sweep = selectors.sweep_get(user=user, sweep_id=sweep_id)
    except (BacktestSweep.DoesNotExist, ValidationError, ValueError, TypeError):
        return []
    context = {**sweep_context(sweep), "oob": True}
    return [render_to_string("pipelines/sweep.html#live", context)]
