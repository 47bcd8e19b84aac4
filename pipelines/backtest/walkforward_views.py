"""Walk-forward pages: start one from a pipeline's backtests page (the sweep's grid plus the
window sizes), watch its windows roll over the websocket with Cancel, then read the
out-of-sample results only, with how many combinations were tried."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST

from pipelines.backtest import walkforward_services as services
from pipelines.backtest.checks import BacktestRefused
from pipelines.backtest.forms import BacktestForm, form_grid
from pipelines.backtest.views import pipeline_or_404
from pipelines.models import BacktestWalkForward


def walkforward_get(*, user, walkforward_id) -> BacktestWalkForward:
    return BacktestWalkForward.objects.select_related("pipeline", "dataset").get(
        owner=user, pk=walkforward_id
    )


def _walkforward(request, walkforward_id) -> BacktestWalkForward:
    try:
        return walkforward_get(user=request.user, walkforward_id=walkforward_id)
    except BacktestWalkForward.DoesNotExist:
        raise Http404("No such walk-forward analysis.") from None


def _bars(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


@login_required
@require_POST
def walkforward_start(request, pipeline_id):
    """The backtest settings and the grid of the form, rolled over windows of bars."""
    pipeline = pipeline_or_404(request, pipeline_id)
    form = BacktestForm(request.POST, user=request.user)
    grid = form_grid(request.POST)
    if not form.is_valid():
        messages.error(request, "The walk-forward was not started: check the backtest settings.")
        return redirect("pipelines:backtests", pipeline_id=pipeline.pk)
    try:
        walkforward = services.walkforward_create(
            owner=request.user,
            pipeline=pipeline,
            dataset=form.cleaned_data["dataset"],
            grid=grid,
            settings=form.settings(timezone.get_current_timezone()),
            in_sample_bars=_bars(request.POST.get("in_sample_bars")),
            out_of_sample_bars=_bars(request.POST.get("out_of_sample_bars")),
        )
    except BacktestRefused as error:
        messages.error(request, f"The walk-forward was not started ({error.field}): {error}")
        return redirect("pipelines:backtests", pipeline_id=pipeline.pk)
    return redirect("pipelines:walkforward", walkforward_id=walkforward.pk)


def walkforward_context(walkforward: BacktestWalkForward) -> dict:
    context: dict = {"walkforward": walkforward, "keys": sorted(walkforward.grid)}
    if walkforward.status == "running" and walkforward.started_at and walkforward.windows_done:
        elapsed = (timezone.now() - walkforward.started_at).total_seconds()
        left = walkforward.windows_total - walkforward.windows_done
        context["eta_seconds"] = int(elapsed / walkforward.windows_done * left)
    windows = walkforward.windows or []
    context["positive_windows"] = sum(1 for w in windows if w["out_of_sample_return_pct"] > 0)
    return context


@login_required
def walkforward_detail(request, walkforward_id):
    context = walkforward_context(_walkforward(request, walkforward_id))
    if request.htmx:
        return render(request, "pipelines/walkforward.html#live", context)
    return render(request, "pipelines/walkforward.html", context)


@login_required
@require_POST
def walkforward_cancel(request, walkforward_id):
    walkforward = services.walkforward_cancel(walkforward=_walkforward(request, walkforward_id))
    messages.info(
        request,
        "Walk-forward cancelled."
        if walkforward.status == "cancelled"
        else "Cancelling after the current window…",
    )
    return redirect("pipelines:walkforward", walkforward_id=walkforward.pk)


def walkforward_live_fragment(*, user, walkforward_id) -> list[str]:
    """The progress and results, swapped in out of band when a window finishes."""
    try:
        walkforward = walkforward_get(user=user, walkforward_id=walkforward_id)
    except (BacktestWalkForward.DoesNotExist, ValidationError, ValueError, TypeError):
        return []
    context = {**walkforward_context(walkforward), "oob": True}
    return [render_to_string("pipelines/walkforward.html#live", context)]
