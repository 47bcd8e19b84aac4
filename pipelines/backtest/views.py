"""Backtest pages: a pipeline's backtests (the form, its datasets, the history) and one
backtest (progress with Cancel while it runs, then its results: metrics, equity, chart, trades)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from pipelines import selectors as pipeline_selectors
from pipelines.backtest import selectors, services
from pipelines.backtest.engine import AT_CLOSE, NEXT_OPEN
from pipelines.backtest.services import BacktestRefused, BacktestSettings
from pipelines.models import Backtest, BacktestSweep, Pipeline
from trading.marketdata.base import TIMEFRAMES, MarketDataError
from trading.marketdata.datasets import (
    DatasetError,
    dataset_bars,
    dataset_create_from_csv,
    dataset_create_from_provider,
)
from trading.marketdata.registry import market_data_provider
from trading.models import Dataset, DatasetSource

CHART_BARS = 1_500


class BacktestForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label=None)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    initial_cash = forms.DecimalField(initial=Decimal("10000"), min_value=1, decimal_places=2)
    commission_pct = forms.DecimalField(
        initial=Decimal("0.1"), min_value=0, max_value=9, decimal_places=4, label="Commission (%)"
    )
    commission_per_share = forms.DecimalField(
        initial=Decimal("0"),
        min_value=0,
        max_value=9,
        decimal_places=4,
        label="Commission ($/share)",
    )
    slippage_pct = forms.DecimalField(
        initial=Decimal("0"), min_value=0, max_value=9, decimal_places=4, label="Slippage (%)"
    )
    fill_at = forms.ChoiceField(
        choices=[(NEXT_OPEN, "Next bar's open"), (AT_CLOSE, "The signal bar's close")],
        label="Market orders fill at",
    )
    side = forms.ChoiceField(
        choices=[
            ("long", "Long"),
            ("short", "Short"),
            ("both", "Long and short: reverse when the exit conditions hold"),
        ],
        label="Direction",
    )

    llm_budget = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=1000,
        decimal_places=4,
        label="LLM budget ($)",
        help_text="The most new model calls may cost; answers already in the replay cache are "
        "free. Empty: the replay cache only.",
    )

    def __init__(self, *args, user, uses_llm: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = selectors.datasets_for_user(user=user)
        if not uses_llm:  # a rules-only pipeline spends nothing: no budget to ask for
            del self.fields["llm_budget"]

    def settings(self, zone) -> BacktestSettings:
        data = self.cleaned_data

        def moment(day):
            return None if day is None else timezone.make_aware(datetime.combine(day, time()), zone)

        return BacktestSettings(
            start=moment(data["start"]),
            end=moment(data["end"]),
            initial_cash=data["initial_cash"],
            commission_pct=data["commission_pct"],
            commission_per_share=data["commission_per_share"],
            slippage_pct=data["slippage_pct"],
            fill_at=data["fill_at"],
            side=data["side"],
            llm_budget=data.get("llm_budget"),
        )


def _pipeline(request, pipeline_id) -> Pipeline:
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
        "timeframe_needed": services.timeframe_needed(pipeline),
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
    pipeline = _pipeline(request, pipeline_id)
    uses_llm = services.pipeline_uses_llm(pipeline)
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
            _bars, estimate = services.backtest_estimate(
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
    pipeline = _pipeline(request, pipeline_id)
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


# Exit markers say why in a word or two (the trades table has the full reason).
EXIT_MARKS = {
    "stop_hit": "stop",
    "target_1_hit": "T1",
    "target_2_hit": "T2",
    "end_of_day": "EOD",
    "exit_condition": "exit",
    "reversal": "reverse",
}


def _chart(backtest: Backtest, trades) -> list[dict]:
    """The dataset's last bars as candles, with every trade's entry and exit marked, each
    trade's stop and targets drawn as segments over the bars it was open, and the last
    trade's levels as price lines."""
    dataset = Dataset.objects.get(pk=backtest.dataset_id)
    bars = dataset_bars(dataset)
    lo = max(0, len(bars) - CHART_BARS)
    candles = [
        [
            int(bars.open_seconds[i]),
            *(round(float(getattr(bars, c)[i]), 4) for c in ["open", "high", "low", "close"]),
        ]
        for i in range(lo, len(bars))
    ]
    first = candles[0][0] if candles else 0
    last_bar = candles[-1][0] if candles else 0
    markers, levels, segments = [], [], []
    for trade in trades:
        entry = int(trade.entry_at.timestamp())
        exit_at = int(trade.exit_at.timestamp()) if trade.exit_at is not None else None
        if entry >= first:
            markers.append(
                {"at": entry, "buy": trade.side == "long", "text": f"{trade.side} {trade.quantity}"}
            )
        if exit_at is not None and exit_at >= first:
            markers.append(
                {
                    "at": exit_at,
                    "buy": trade.side != "long",
                    "text": EXIT_MARKS.get(trade.close_reason, trade.close_reason),
                }
            )
        if (exit_at or last_bar) >= first:
            for kind, price in (
                ("stop", trade.stop_loss),
                ("target_1", trade.target_1),
                ("target_2", trade.target_2),
            ):
                if price is not None:
                    segments.append(
                        {
                            "kind": kind,
                            "price": float(price),
                            "from": max(entry, first),
                            "to": exit_at or last_bar,
                        }
                    )
    if trades:
        last = trades[-1]
        for kind, price, title in (
            ("stop", last.stop_loss, "Stop"),
            ("target", last.target_1, "T1"),
            ("target", last.target_2, "T2"),
            ("entry", last.entry_price, "Entry"),
        ):
            if price is not None:
                levels.append({"kind": kind, "price": str(price), "title": title})
    return [
        {
            "symbol": dataset.symbol,
            "timeframes": [dataset.timeframe],
            "default": dataset.timeframe,
            "candles": {dataset.timeframe: candles},
            "levels": levels,
            "markers": markers,
            "segments": segments,
        }
    ]


def backtest_context(backtest: Backtest) -> dict:
    context: dict = {"backtest": backtest}
    if backtest.status == "running" and backtest.started_at and backtest.bars_done:
        elapsed = (timezone.now() - backtest.started_at).total_seconds()
        left = backtest.bars_total - backtest.bars_done
        context["eta_seconds"] = int(elapsed / backtest.bars_done * left)
    return context


@login_required
def backtest_detail(request, backtest_id):
    backtest = _backtest(request, backtest_id)
    context = backtest_context(backtest)
    if request.htmx:
        return render(request, "pipelines/backtest.html#progress", context)
    trades = list(selectors.backtest_trades(backtest=backtest)) if backtest.is_finished else []
    context.update(
        {
            "trades": trades,
            "charts": _chart(backtest, trades) if trades else [],
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


def _values(text: str) -> list:
    """'10, 20, 30' → [10, 20, 30] (numbers where they parse, else the text)."""
    values = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            number = float(part)
            values.append(int(number) if number.is_integer() else number)
        except ValueError:
            values.append(part)
    return values


def form_grid(data) -> dict[str, list]:
    """The grid the sweep/walk-forward form names: up to two `node_id.field` = values rows."""
    return {
        data.get(f"param_{n}", "").strip(): _values(data.get(f"values_{n}", ""))
        for n in (1, 2)
        if data.get(f"param_{n}", "").strip()
    }


@login_required
@require_POST
def sweep_start(request, pipeline_id):
    """A grid of up to two config values (node_id.field = comma-separated values)."""
    pipeline = _pipeline(request, pipeline_id)
    form = BacktestForm(request.POST, user=request.user)
    grid = form_grid(request.POST)
    if not form.is_valid():
        messages.error(request, "The sweep was not started: check the backtest settings.")
        return redirect("pipelines:backtests", pipeline_id=pipeline.pk)
    try:
        sweep = services.sweep_create(
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


def _sweep(request, sweep_id) -> BacktestSweep:
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
    sweep = services.sweep_refresh(sweep=sweep)
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
    context = sweep_context(_sweep(request, sweep_id), request.GET.get("sort", "equity"))
    if request.htmx:
        return render(request, "pipelines/sweep.html#live", context)
    return render(request, "pipelines/sweep.html", context)


@login_required
@require_POST
def sweep_cancel(request, sweep_id):
    sweep = services.sweep_cancel(sweep=_sweep(request, sweep_id))
    messages.info(
        request,
        "Sweep cancelled: waiting combinations will not run."
        if sweep.status == "cancelled"
        else "The sweep had already finished.",
    )
    return redirect("pipelines:sweep", sweep_id=sweep.pk)


def backtest_page_shows(payload: dict, topics: set[str]) -> bool:
    """Whether a backtest event changes the page listening to `topics` (see below)."""
    if f"backtest:{payload.get('backtest_id')}" in topics:
        return True
    walkforward_id = payload.get("walkforward_id")
    if walkforward_id and f"walkforward:{walkforward_id}" in topics:
        return True
    sweep_id = payload.get("sweep_id")
    return bool(sweep_id) and f"sweep:{sweep_id}" in topics and payload.get("status") != "running"


def backtest_live_fragments(*, user, payload: dict, topics: set[str]) -> list[str]:
    """What a backtest event changes on the page watching it: a backtest's progress card
    ("backtest:<id>"), a walk-forward's windows ("walkforward:<id>"), or a sweep's progress,
    table and heatmap ("sweep:<id>") when one of its combinations finishes or it ends."""
    if not backtest_page_shows(payload, topics):
        return []
    if f"backtest:{payload.get('backtest_id')}" in topics:
        return backtest_progress_fragment(user=user, backtest_id=payload.get("backtest_id"))
    if payload.get("walkforward_id"):
        from pipelines.backtest.walkforward_views import walkforward_live_fragment

        return walkforward_live_fragment(user=user, walkforward_id=payload["walkforward_id"])
    return sweep_live_fragment(user=user, sweep_id=payload["sweep_id"])


def sweep_live_fragment(*, user, sweep_id) -> list[str]:
    from django.core.exceptions import ValidationError
    from django.template.loader import render_to_string

    try:
        sweep = selectors.sweep_get(user=user, sweep_id=sweep_id)
    except (BacktestSweep.DoesNotExist, ValidationError, ValueError, TypeError):
        return []
    context = {**sweep_context(sweep), "oob": True}
    return [render_to_string("pipelines/sweep.html#live", context)]
