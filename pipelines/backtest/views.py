"""Backtest pages: a pipeline's backtests (the form, its datasets, the history) and one
backtest (progress with Cancel while it runs, then its results: metrics, equity, chart, trades).
Sweeps have their pages in `sweep_views`, walk-forwards in `walkforward_views`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from pipelines import selectors as pipeline_selectors
from pipelines.backtest import checks, selectors, services
from pipelines.backtest.chart import backtest_chart
from pipelines.backtest.checks import BacktestRefused
from pipelines.backtest.forms import BacktestForm
from pipelines.models import Backtest, Pipeline
from trading.marketdata.base import TIMEFRAMES, MarketDataError
from trading.marketdata.datasets import (
    DatasetError,
    dataset_create_from_csv,
    dataset_create_from_provider,
)
from trading.marketdata.registry import market_data_provider
from trading.models import DatasetSource


def pipeline_or_404(request, pipeline_id) -> Pipeline:
    try:
        return pipeline_selectors.pipeline_get(user=request.user, pipeline_id=pipeline_id)
    except Pipeline.DoesNotExist:
        raise Http404("No such pipeline.") from None


def _backtest(request, backtest_id) -> Backtest:
    try:
        return selectors.backtest_get(user=request.user, backtest_id=backtest_id)
    except Backtest.DoesNotExist:
        raise Http404("No such backtest.") from None


def _home(request, pipeline, form, status=200, llm_estimate=None):
    context = {
        "pipeline": pipeline,
        "form": form,
        "llm_estimate": llm_estimate,
        "timeframes": TIMEFRAMES,
        "timeframe_needed": checks.timeframe_needed(pipeline),
        "datasets": list(selectors.datasets_for_user(user=request.user)[:50]),
        "backtests": list(
            selectors.backtests_for_user(user=request.user, pipeline=pipeline).filter(
                sweep__isnull=True
            )[:50]
        ),
        "sweeps": list(pipeline.sweeps.filter(owner=request.user)[:10]),
        "walkforwards": list(
            pipeline.walkforwards.filter(owner=request.user).defer("windows")[:10]
        ),
    }
    return render(request, "pipelines/backtests.html", context, status=status)


@login_required
def backtest_home(request, pipeline_id):
    """GET: the form and the history; POST: start a backtest (checked first)."""
    pipeline = pipeline_or_404(request, pipeline_id)
    uses_llm = checks.pipeline_uses_llm(pipeline)
    if request.method != "POST":
        return _home(request, pipeline, BacktestForm(user=request.user, uses_llm=uses_llm))
    form = BacktestForm(request.POST, user=request.user, uses_llm=uses_llm)
    if not form.is_valid():
        return _home(request, pipeline, form, status=422)
    settings = form.settings(timezone.get_current_timezone())
    try:
        if settings.llm_budget and request.POST.get("spend_confirmed") != "1":
            # New model calls cost money: say what they may cost first, and start on a second
            # press (the budget stays the hard cap either way).
            _bars, estimate = checks.backtest_estimate(
                pipeline=pipeline, dataset=form.cleaned_data["dataset"], settings=settings
            )
            return _home(request, pipeline, form, llm_estimate=estimate or Decimal("0"))
        backtest = services.backtest_create(
            owner=request.user,
            pipeline=pipeline,
            dataset=form.cleaned_data["dataset"],
            settings=settings,
        )
    except BacktestRefused as error:
        field = error.field if error.field in form.fields else None
        form.add_error(field, str(error))
        return _home(request, pipeline, form, status=422)
    return redirect("pipelines:backtest", backtest_id=backtest.pk)


@login_required
@require_POST
def dataset_add(request, pipeline_id):
    """Upload a CSV or fetch synthetic history; back to the form with the outcome."""
    pipeline = pipeline_or_404(request, pipeline_id)
    symbol = request.POST.get("symbol", "")
    try:
        if request.POST.get("source") == DatasetSource.SYNTHETIC:
            try:
                start = datetime.fromisoformat(request.POST.get("start", ""))
                end = datetime.fromisoformat(request.POST.get("end", ""))
            except ValueError:
                raise DatasetError("Give a start and an end date.", column="start") from None
            zone = timezone.get_current_timezone()
            dataset = dataset_create_from_provider(
                owner=request.user,
                provider=market_data_provider(),
                source=DatasetSource.SYNTHETIC,
                symbol=symbol,
                timeframe=request.POST.get("timeframe", "1d"),
                start=timezone.make_aware(start, zone),
                end=timezone.make_aware(end, zone),
            )
        else:
            upload = request.FILES.get("file")
            if upload is None:
                raise DatasetError("Choose a CSV file to upload.", column="file")
            dataset = dataset_create_from_csv(
                owner=request.user,
                name=request.POST.get("name", ""),
                symbol=symbol,
                content=upload.read(),
                time_zone=request.POST.get("time_zone") or "UTC",
            )
    except (DatasetError, MarketDataError) as error:
        messages.error(request, f"The dataset was not added: {error}")
    else:
        messages.success(
            request,
            f"Dataset “{dataset.name}” added: {dataset.bar_count:,} {dataset.timeframe} bars.",
        )
    return redirect("pipelines:backtests", pipeline_id=pipeline.pk)


def backtest_context(backtest: Backtest) -> dict:
    context: dict = {"backtest": backtest}
    if backtest.status == "running" and backtest.started_at and backtest.bars_done:
        elapsed = (timezone.now() - backtest.started_at).total_seconds()
        left = backtest.bars_total - backtest.bars_done
        context["eta_seconds"] = int(elapsed / backtest.bars_done * left)
    return context


def trades_context(request, backtest: Backtest) -> dict:
    """A page of the finished backtest's trades (`?older=`/`?newer=` cursors, a bad one reads
    as none), where it sits among them, and the chart."""
    page = selectors.backtest_trade_page(
        backtest=backtest,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
    )
    total = selectors.backtest_trades(backtest=backtest).count()
    first_number = 1
    if page.older and page.rows:
        first_number = selectors.backtest_trades_before(trade=page.rows[0]) + 1
    return {
        "page": page,
        "trades": page.rows,
        "trades_total": total,
        "first_number": first_number,
        "last_number": first_number + len(page.rows) - 1,
        "charts": backtest_chart(backtest) if total else [],
    }


@login_required
def backtest_detail(request, backtest_id):
    backtest = _backtest(request, backtest_id)
    context = backtest_context(backtest)
    if request.htmx:
        # A refresh of the progress card on a page that already shows the results (the live
        # socket refreshes it on connect) offers no "Show the results" link.
        context["results_shown"] = backtest.is_finished and request.GET.get("shown") == "1"
        return render(request, "pipelines/backtest.html#progress", context)
    if backtest.is_finished:
        context.update(trades_context(request, backtest))
    context.update(
        {
            "results_shown": backtest.is_finished,
            # Daily bars carry a date, not a time a trader would read.
            "daily": backtest.dataset.timeframe == "1d",
        }
    )
    return render(request, "pipelines/backtest.html", context)


@login_required
@require_POST
def backtest_cancel(request, backtest_id):
    backtest = services.backtest_cancel(backtest=_backtest(request, backtest_id))
    messages.info(
        request,
        "Backtest cancelled." if backtest.status == "cancelled" else "Cancelling the backtest…",
    )
    return redirect("pipelines:backtest", backtest_id=backtest.pk)


def backtest_progress_fragment(*, user, backtest_id) -> list[str]:
    """The progress card, swapped in out of band when a backtest reports progress."""
    from django.core.exceptions import ValidationError
    from django.template.loader import render_to_string

    try:
        backtest = selectors.backtest_get(user=user, backtest_id=backtest_id)
    except (Backtest.DoesNotExist, ValidationError, ValueError, TypeError):
        return []
    context = {**backtest_context(backtest), "oob": True}
    return [render_to_string("pipelines/backtest.html#progress", context)]
