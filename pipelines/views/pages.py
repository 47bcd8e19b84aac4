"""Pipeline pages: the list, templates, detail, run controls, mode changes, clone and delete;
executions and their live monitor; run reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from config.core.errors import Conflict, UpgradeRequired
from config.core.ui import confirmation_page, is_confirmed
from pipelines import blueprints, lifecycle, runmodes, selectors, services
from pipelines.forms import (
    LIVE_WARNING,
    MODE_OPTIONS,
    ExecutionFilterForm,
)
from pipelines.graph import (
    has_trigger_node,
)
from pipelines.models import (
    ExecutionStatus,
    Pipeline,
    PipelineDailyStats,
    PipelineStatus,
    Report,
    RunMode,
    StepRun,
    TradingMode,
    TriggerSource,
)
from pipelines.schedules import schedule_of
from pipelines.selectors import (
    execution_context,
    timeframe_rank,
)
from pipelines.views.helpers import (
    EXECUTIONS_PER_PAGE,
    _error_messages,
    _next_url,
    _owned_execution,
    _owned_pipeline,
    graph_layers,
)


# --- List, templates, detail ------------------------------------------------------------------
@login_required
def pipeline_list(request):
    pipelines = list(selectors.pipeline_cards_for_user(user=request.user))
    context = {"pipelines": pipelines, "blueprints": blueprints.all_blueprints()}
    if request.htmx:
        return render(request, "pipelines/list.html#pipeline-cards", context)
    return render(request, "pipelines/list.html", context)


@login_required
@require_POST
def pipeline_from_template(request):
    try:
        pipeline, _ = blueprints.pipeline_create_from_blueprint(
            owner=request.user, key=request.POST.get("template_key", "")
        )
    except ValidationError as error:
        for text in _error_messages(error):
            messages.error(request, text)
        return redirect("pipelines:list")
    messages.success(
        request,
        f"“{pipeline.name}” is ready in SIMULATION mode. Run it now, or open the builder to "
        "change its agents.",
    )
    return redirect("pipelines:detail", pipeline_id=pipeline.pk)


def _why_not_running(pipeline: Pipeline, now: datetime) -> str:
    """Why an idle pipeline is not running now, in the trader's words."""
    if pipeline.status_reason:
        return pipeline.status_reason
    if pipeline.run_mode == RunMode.RUN_ONCE:
        return "Run once: it runs each time you press Run, and not on its own."
    if pipeline.status == PipelineStatus.DRAFT:
        return "A draft: start a run by hand, or activate it to run on its own."
    if pipeline.status == PipelineStatus.ACTIVE:
        blocker = runmodes.start_blocker(pipeline=pipeline, now=now)
        if blocker is None and pipeline.run_mode == RunMode.RUN_ON_SIGNAL:
            return "Listening: the next matching signal starts a run for its tickers."
        return blocker or ""
    return f"The pipeline is {pipeline.get_status_display().lower()}."


def _detail_context(request, pipeline: Pipeline) -> dict[str, Any]:
    now = timezone.now()
    executions = list(
        selectors.execution_rows_for_user(user=request.user, pipeline_id=pipeline.pk)[:20]
    )
    active_execution = next((e for e in executions if e.is_active), None)
    schedule = schedule_of(pipeline)
    today = PipelineDailyStats.objects.filter(
        pipeline=pipeline, date=runmodes.trading_day(schedule, now)
    ).first()
    return {
        "pipeline": pipeline,
        "has_trigger": has_trigger_node(pipeline.graph),
        "executions": executions,
        "active_execution": active_execution,
        "active_waiting_for": (
            selectors.waiting_for(active_execution) if active_execution is not None else ""
        ),
        "why_not_running": "" if active_execution else _why_not_running(pipeline, now),
        "today": today,
    }


@login_required
def pipeline_detail(request, pipeline_id):
    pipeline = _owned_pipeline(request, pipeline_id, cards=True)
    context = _detail_context(request, pipeline)
    if request.htmx:
        return render(request, "pipelines/detail.html#live", context)
    from agents.llm.config import UnpricedModel
    from billing.estimates import cost_estimate

    try:
        estimate = cost_estimate(
            owner=request.user,
            graph=pipeline.graph,
            run_mode=pipeline.run_mode,
            schedule=pipeline.schedule,
            symbol_count=max(1, len(pipeline.symbols or [])),
            pipeline_daily_limit=pipeline.daily_budget,
        )
        estimate_error = None
    except UnpricedModel as error:
        estimate, estimate_error = {"budget": {"run_fits": True, "warnings": []}}, str(error)
    context.update(
        {
            "layers": graph_layers(pipeline.graph),
            "estimate": estimate,
            "estimate_error": estimate_error,
            "mode_changes": list(pipeline.mode_changes.all()[:5]),
            **_mode_context(pipeline),
        }
    )
    context["schedule"] = schedule_of(pipeline) if pipeline.schedule else None
    return render(request, "pipelines/detail.html", context)


def _mode_context(pipeline: Pipeline | None) -> dict[str, Any]:
    """The mode cards, with what still stands between the pipeline and PAPER or LIVE."""
    requirements: dict[str, list[str]] = {}
    if pipeline is not None:
        live = services.live_mode_requirements(pipeline=pipeline, confirmed=True)
        requirements[TradingMode.LIVE] = list(live.values())
        if pipeline.trading_mode != TradingMode.PAPER:
            requirements[TradingMode.PAPER] = list(
                services.paper_mode_requirements(pipeline=pipeline).values()
            )
    return {
        "mode_options": MODE_OPTIONS,
        "mode_requirements": requirements,
        "live_warning": LIVE_WARNING,
    }


# --- Controls ---------------------------------------------------------------------------------
@login_required
@require_POST
def pipeline_run(request, pipeline_id):
    pipeline = _owned_pipeline(request, pipeline_id)
    detail = {"skip_trigger": True} if request.POST.get("skip_trigger") else {}
    try:
        execution = services.execution_start(
            pipeline=pipeline, source=TriggerSource.MANUAL, detail=detail
        )
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("pipelines:detail", pipeline_id=pipeline.pk)
    return redirect("pipelines:execution", execution_id=execution.pk)


@login_required
@require_POST
def pipeline_control(request, pipeline_id, action: str):
    pipeline = _owned_pipeline(request, pipeline_id)
    detail_url = reverse("pipelines:detail", args=[pipeline.pk])
    if action == "stop" and not is_confirmed(request):
        return confirmation_page(
            request,
            title=f"Stop “{pipeline.name}”?",
            message="No new runs will start, and the run in progress (if any) is cancelled.",
            consequences=[
                "Open positions stay open and keep being monitored; close them on the "
                "Positions page if you want out.",
                "Activate the pipeline again to resume.",
            ],
            button="Stop the pipeline",
            cancel_url=detail_url,
        )
    try:
        if action == "activate":
            lifecycle.pipeline_activate(pipeline=pipeline)
            messages.success(request, f"“{pipeline.name}” is active.")
        elif action == "pause":
            lifecycle.pipeline_pause(pipeline=pipeline)
            messages.success(request, f"“{pipeline.name}” is paused: no new runs start.")
        else:
            lifecycle.pipeline_stop(pipeline=pipeline, reason="Stopped by the user.")
            messages.success(request, f"“{pipeline.name}” is stopped.")
    except (Conflict, ValidationError) as error:
        for text in _error_messages(error) if isinstance(error, ValidationError) else [str(error)]:
            messages.error(request, text)
    except UpgradeRequired as error:
        # The upgrade prompt: the refusal, and the Billing page one click away.
        messages.error(
            request,
            format_html('{} <a href="{}">See plans</a>', str(error), reverse("billing:overview")),
        )
    return redirect(_next_url(request, detail_url))


@login_required
@require_POST
def pipeline_mode(request, pipeline_id):
    pipeline = _owned_pipeline(request, pipeline_id)
    detail_url = reverse("pipelines:detail", args=[pipeline.pk])
    mode = request.POST.get("mode", "")
    if mode == TradingMode.LIVE and not is_confirmed(request):
        return confirmation_page(
            request,
            title="Switch to LIVE trading?",
            message=LIVE_WARNING,
            consequences=[
                "Orders go to your Alpaca live account as soon as the pipeline runs.",
                "Your budgets and the pipeline's daily limits still apply.",
            ],
            check="I understand that LIVE mode trades real money.",
            button="Switch to LIVE",
            cancel_url=detail_url,
        )
    try:
        services.pipeline_mode_change(
            pipeline=pipeline,
            changed_by=request.user,
            mode=mode,
            confirmed=is_confirmed(request),
            reason=request.POST.get("reason", "")[:1000],
        )
    except ValidationError as error:
        for text in _error_messages(error):
            messages.error(request, text)
    except Conflict as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"“{pipeline.name}” now runs in {mode}.")
    return redirect(_next_url(request, detail_url))


@login_required
@require_POST
def pipeline_clone(request, pipeline_id):
    pipeline = _owned_pipeline(request, pipeline_id)
    clone = services.pipeline_clone(pipeline=pipeline)
    messages.success(request, f"Copied to “{clone.name}” (a draft in {clone.trading_mode}).")
    return redirect("pipelines:detail", pipeline_id=clone.pk)


@login_required
def pipeline_clone_live(request, pipeline_id):
    """A LIVE copy of a test pipeline (spec §12.4 "clone as live"); always confirmed."""
    pipeline = _owned_pipeline(request, pipeline_id)
    detail_url = reverse("pipelines:detail", args=[pipeline.pk])
    if not is_confirmed(request):
        requirements = services.live_mode_requirements(pipeline=pipeline, confirmed=True)
        return confirmation_page(
            request,
            title=f"Clone “{pipeline.name}” as LIVE?",
            message=LIVE_WARNING,
            consequences=[
                "A copy is made in LIVE mode; this pipeline stays as it is.",
                "The copy starts as a draft: it trades only when you run or activate it.",
                *[f"Not yet possible: {text}" for text in requirements.values()],
            ],
            check="I understand that the copy trades real money.",
            button="Clone as LIVE",
            cancel_url=detail_url,
        )
    try:
        clone = services.pipeline_clone_as_live(
            pipeline=pipeline, changed_by=request.user, confirmed=True
        )
    except ValidationError as error:
        for text in _error_messages(error):
            messages.error(request, text)
        return redirect(_next_url(request, detail_url))
    messages.success(request, f"“{clone.name}” is a LIVE copy (a draft until you start it).")
    return redirect("pipelines:detail", pipeline_id=clone.pk)


@login_required
@require_POST
def pipeline_delete(request, pipeline_id):
    pipeline = _owned_pipeline(request, pipeline_id)
    if not is_confirmed(request):
        return confirmation_page(
            request,
            title=f"Delete “{pipeline.name}”?",
            message="The pipeline, its runs and their reports are deleted. This cannot be undone.",
            consequences=["Trades and positions stay in your trading history."],
            button="Delete the pipeline",
            cancel_url=reverse("pipelines:detail", args=[pipeline.pk]),
        )
    try:
        services.pipeline_delete(pipeline=pipeline)
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("pipelines:detail", pipeline_id=pipeline.pk)
    messages.success(request, f"“{pipeline.name}” was deleted.")
    return redirect("pipelines:list")


# --- Executions and the live monitor ----------------------------------------------------------
@login_required
def execution_list(request):
    pipelines = list(
        Pipeline.objects.filter(owner=request.user).order_by("name").values_list("pk", "name")
    )
    form = ExecutionFilterForm(request.GET or None, pipelines=pipelines)
    filters = form.filters() if request.GET else {}
    rows = selectors.execution_rows_for_user(user=request.user, **filters)
    page = Paginator(rows, EXECUTIONS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "executions": page.object_list,
        "filtered": any(value for value in filters.values()),
        "has_pipelines": bool(pipelines),
        "query": query.urlencode(),
    }
    if request.htmx:
        return render(request, "pipelines/executions.html#executions-table", context)
    return render(request, "pipelines/executions.html", context)


@login_required
def execution_detail(request, execution_id):
    execution = _owned_execution(request, execution_id)
    context = execution_context(execution)
    if request.htmx:
        return render(request, "pipelines/execution.html#live", context)
    return render(request, "pipelines/execution.html", context)


@login_required
def execution_stop(request, execution_id):
    execution = _owned_execution(request, execution_id)
    url = reverse("pipelines:execution", args=[execution.pk])
    if not is_confirmed(request):
        return confirmation_page(
            request,
            title="Stop this run?",
            message="The run is cancelled after the step in progress; later agents do not run.",
            consequences=["Positions it already opened stay open and keep being monitored."],
            button="Stop the run",
            cancel_url=url,
        )
    if services.execution_stop(execution=execution):
        messages.success(request, "The run was stopped.")
    else:
        messages.info(request, "The run had already finished.")
    return redirect(url)


# --- Reports ----------------------------------------------------------------------------------
STEP_TITLES = {
    "trigger": "Trigger",
    "market_snapshot": "Market snapshot",
    "bias": "Bias",
    "strategy": "Strategy",
    "risk": "Risk checks",
    "order": "Order",
}


def _report_symbols(report: Report) -> list[dict[str, Any]]:
    full = report.full_report or {}
    if report.report_type == "trade_closed":
        chain = full.get("reasoning_chain") or {}
        return [chain] if chain else []
    return [
        value for key, value in full.items() if not key.startswith("_") and isinstance(value, dict)
    ]


@login_required
def report_detail(request, report_id):
    try:
        report = selectors.report_get(user=request.user, report_id=report_id)
    except Report.DoesNotExist:
        raise Http404("No such report.") from None
    symbols = _report_symbols(report)
    for story in symbols:
        for step in story.get("chain") or []:
            step["title"] = STEP_TITLES.get(step.get("step"), str(step.get("step", "")).title())
            data = step.get("data") if isinstance(step.get("data"), dict) else {}
            checked = data.get("checked_at") if step.get("step") == "trigger" else None
            step["checked"] = parse_datetime(checked) if isinstance(checked, str) else None
            # JSONB keeps object keys in its own order: list the timeframes short to long.
            for key, name in (("timeframes", "frames"), ("timeframe_breakdown", "breakdown")):
                if isinstance(data.get(key), dict):
                    step[name] = sorted(data[key].items(), key=lambda kv: timeframe_rank(kv[0]))
    full = report.full_report or {}
    context = {
        "report": report,
        "symbols": symbols,
        "summary": full.get("_summary") if report.report_type == "execution" else None,
        "outcome": full.get("outcome") if report.report_type == "trade_closed" else None,
        "steps": StepRun.objects.filter(execution_id=report.execution_id).order_by("position"),
        "ExecutionStatus": ExecutionStatus,
    }
    return render(request, "pipelines/report.html", context)
