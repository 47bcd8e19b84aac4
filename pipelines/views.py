"""Pipeline pages: the list, a pipeline with its run controls, the visual builder (Drawflow canvas,
config panels rendered from each agent's JSON Schema), the live execution monitor, the history of
executions and the report viewer."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.views import confirmation_page, is_confirmed
from agents.custom.agent import AGENT_TYPE as CUSTOM_AGENT_TYPE
from agents.custom.agent import custom_strategy_schema
from agents.custom.selectors import active_strategies_for_user
from agents.registry import agent_class, all_metadata, validate_node_config
from config.errors import Conflict, UpgradeRequired
from pipelines import blueprints, runmodes, selectors, services
from pipelines.forms import (
    LIVE_WARNING,
    MODE_OPTIONS,
    ExecutionFilterForm,
    PipelineSettingsForm,
    config_fields,
)
from pipelines.graph import (
    GraphIssue,
    InvalidGraph,
    has_trigger_node,
    topological_order,
    validate_graph,
)
from pipelines.models import (
    ExecutionStatus,
    Pipeline,
    PipelineDailyStats,
    PipelineExecution,
    PipelineStatus,
    Report,
    RunMode,
    StepRun,
    TradingMode,
    TriggerSource,
)
from pipelines.schedules import schedule_of
from pipelines.selectors import (
    configured_engines,
    execution_charts,
    execution_context,
    execution_status_context,
    execution_trades,
    llm_configured,
    step_row,
    timeframe_rank,
)

CATEGORY_ORDER = ["trigger", "data", "analysis", "risk", "execution", "reporting"]
CATEGORY_LABELS = {
    "trigger": "Triggers",
    "data": "Market data",
    "analysis": "Analysis",
    "risk": "Risk",
    "execution": "Execution",
    "reporting": "Reporting",
    "system": "System",
}
CATEGORY_ICONS = {
    "trigger": "◷",
    "data": "▦",
    "analysis": "◎",
    "risk": "⚖",
    "execution": "⇄",
    "reporting": "✎",
    "system": "⚙",
}
EXECUTIONS_PER_PAGE = 50


# --- Helpers -----------------------------------------------------------------------------------


def _owned_pipeline(request, pipeline_id, *, cards: bool = False) -> Pipeline:
    source = selectors.pipeline_cards_for_user if cards else selectors.pipelines_for_user
    try:
        return source(user=request.user).get(pk=pipeline_id)
    except Pipeline.DoesNotExist:
        raise Http404("No such pipeline.") from None


def _owned_execution(request, execution_id) -> PipelineExecution:
    try:
        return selectors.execution_get(user=request.user, execution_id=execution_id)
    except PipelineExecution.DoesNotExist:
        raise Http404("No such execution.") from None


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _json_field(raw: str | None, default: Any) -> Any:
    if not raw:
        return default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return default


def _error_messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [text for texts in error.message_dict.values() for text in texts]
    return list(error.messages)


def graph_layers(graph: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The graph's agents in columns by depth (a trigger first), for the read-only preview."""
    nodes = {node["id"]: node for node in graph.get("nodes", [])}
    edges = [(e["from"], e["to"]) for e in graph.get("edges", []) if e["from"] in nodes]
    order = topological_order(list(nodes), edges) or list(nodes)
    depth = dict.fromkeys(order, 0)
    for node_id in order:
        for source, target in edges:
            if source == node_id and target in depth:
                depth[target] = max(depth[target], depth[node_id] + 1)
    layers: list[list[dict[str, Any]]] = []
    for node_id in order:
        while len(layers) <= depth[node_id]:
            layers.append([])
        cls = agent_class(nodes[node_id]["agent_type"])
        category = cls.metadata.category if cls else "system"
        layers[depth[node_id]].append(
            {
                "id": node_id,
                "name": cls.metadata.name if cls else nodes[node_id]["agent_type"],
                "category": category,
                "icon": CATEGORY_ICONS.get(category, "•"),
            }
        )
    return layers


def _issue_dicts(check) -> list[dict[str, Any]]:
    issues = [
        {"node_id": i.node_id, "field": i.field, "msg": i.message, "level": "error"}
        for i in check.errors
    ]
    issues += [
        {"node_id": i.node_id, "field": i.field, "msg": i.message, "level": "warning"}
        for i in check.warnings
    ]
    return issues


def _issues_from_errors(errors: list[GraphIssue]) -> list[dict[str, Any]]:
    return [
        {"node_id": i.node_id, "field": i.field, "msg": i.message, "level": "error"} for i in errors
    ]


# --- List, templates, detail ---------------------------------------------------------------


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


# --- Controls --------------------------------------------------------------------------------


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
            runmodes.pipeline_activate(pipeline=pipeline)
            messages.success(request, f"“{pipeline.name}” is active.")
        elif action == "pause":
            runmodes.pipeline_pause(pipeline=pipeline)
            messages.success(request, f"“{pipeline.name}” is paused: no new runs start.")
        else:
            runmodes.pipeline_stop(pipeline=pipeline, reason="Stopped by the user.")
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


# --- Builder -------------------------------------------------------------------------------


def palette(user=None) -> list[dict[str, Any]]:
    """The agent palette: the registry's agents grouped by category, with their price; the
    user's approved custom strategies appear as "Custom: <name>" (the generic custom agent,
    which needs a strategy, does not)."""
    groups: dict[str, list] = {}
    for meta in all_metadata():
        if meta.agent_type == CUSTOM_AGENT_TYPE:
            continue
        groups.setdefault(meta.category, []).append(meta)
    if user is not None:
        custom = agent_class(CUSTOM_AGENT_TYPE).metadata
        for strategy in active_strategies_for_user(user=user):
            entry = {
                **custom.model_dump(),
                "name": f"Custom: {strategy.name}",
                "description": strategy.description[:300],
                "preset": json.dumps({"strategy": str(strategy.lineage), "params": {}}),
            }
            groups.setdefault(custom.category, []).append(SimpleNamespace(**entry))
    ordered = sorted(groups, key=lambda c: CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else 99)
    return [
        {
            "category": category,
            "label": CATEGORY_LABELS.get(category, category.title()),
            "icon": CATEGORY_ICONS.get(category, "•"),
            "agents": sorted(groups[category], key=lambda m: m.name),
        }
        for category in ordered
    ]


def _label_custom_strategy_fields(fields, *, schema: dict[str, Any], user) -> None:
    """A custom strategy node's form: strategies by name (not by id), params at their
    declared defaults until the trader changes them."""
    names = {
        str(s.lineage): f"{s.name} v{s.version}" for s in active_strategies_for_user(user=user)
    }
    param_schema = schema["properties"].get("params", {}).get("properties", {})
    for field in fields:
        if field.path == "strategy":
            field.choices = [
                (value, names.get(value, "not available")) for value, _ in field.choices
            ]
        elif field.path == "params":
            for child in field.children:
                key = child.path.split(".", 1)[1]
                if child.value is None and key in param_schema:
                    child.value = param_schema[key].get("default")


def _palette_json() -> dict[str, Any]:
    return {
        meta.agent_type: {
            "name": meta.name,
            "category": meta.category,
            "icon": CATEGORY_ICONS.get(meta.category, "•"),
            "inputs": 0 if meta.category == "trigger" else 1,
            "outputs": 1,
        }
        for meta in all_metadata()
    }


def _builder_context(
    request,
    *,
    pipeline: Pipeline | None,
    form: PipelineSettingsForm,
    graph: dict[str, Any],
    issues: list[dict[str, Any]] | None = None,
    leftovers: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "pipeline": pipeline,
        "form": form,
        "graph": graph,
        "issues": issues or [],
        "error_count": sum(1 for i in issues or [] if i["level"] == "error"),
        "leftovers": leftovers or [],
        "palette": palette(request.user),
        "palette_json": _palette_json(),
        "blueprints": blueprints.all_blueprints(),
        "llm_configured": llm_configured(),
        **_mode_context(pipeline),
    }


@login_required
def pipeline_builder(request, pipeline_id=None):
    """The visual builder, for a new pipeline and for an existing one. Saving posts the settings
    and the graph; the server validates the graph and answers with the issues per node."""
    pipeline = _owned_pipeline(request, pipeline_id) if pipeline_id else None
    creating = pipeline is None
    if request.method != "POST":
        if pipeline is not None:
            form = PipelineSettingsForm(
                initial=PipelineSettingsForm.initial_for(pipeline), creating=False
            )
            graph = pipeline.graph
        else:
            initial = PipelineSettingsForm.initial_new()
            graph = {"nodes": [], "edges": []}
            blueprint = blueprints.BLUEPRINTS.get(request.GET.get("template", ""))
            if blueprint is not None:
                graph = blueprint.graph
                initial.update(
                    name=blueprint.name,
                    description=blueprint.description,
                    symbols=", ".join(blueprint.symbols),
                    primary_timeframe=blueprint.primary_timeframe,
                )
            form = PipelineSettingsForm(initial=initial, creating=True)
        context = _builder_context(request, pipeline=pipeline, form=form, graph=graph)
        return render(request, "pipelines/builder.html", context)

    form = PipelineSettingsForm(request.POST, creating=creating)
    graph = _json_field(request.POST.get("graph"), None)
    issues: list[dict[str, Any]] = []
    leftovers: list[str] = []
    if not isinstance(graph, dict):
        graph = {"nodes": [], "edges": []}
        leftovers.append("The canvas could not be read; add at least one agent and save again.")
    check = validate_graph(graph)
    issues = _issue_dicts(check)
    if form.is_valid() and check.ok and not leftovers:
        try:
            if creating:
                mode = form.chosen_mode()
                pipeline, check = services.pipeline_create(
                    owner=request.user,
                    graph=graph,
                    trading_mode=mode,
                    **form.service_fields(trading_mode=mode),
                )
            else:
                pipeline, check = services.pipeline_update(
                    pipeline=pipeline,
                    graph=graph,
                    **form.service_fields(
                        trading_mode=pipeline.trading_mode, current_settings=pipeline.settings
                    ),
                )
        except InvalidGraph as error:
            issues = _issues_from_errors(error.errors)
        except ValidationError as error:
            leftovers = form.add_service_errors(error.message_dict)
        else:
            messages.success(request, f"“{pipeline.name}” saved.")
            for warning in check.warnings if check else []:
                messages.warning(request, f"{warning.node_id}: {warning.message}")
            url = reverse("pipelines:detail", args=[pipeline.pk])
            if request.htmx:
                return HttpResponseClientRedirect(url)
            return redirect(url)
    context = _builder_context(
        request, pipeline=pipeline, form=form, graph=graph, issues=issues, leftovers=leftovers
    )
    context["oob_issues"] = True
    if request.htmx:
        return render(request, "pipelines/builder.html#builder-form", context)
    return render(request, "pipelines/builder.html", context)


def _timeframe_guidance(graph: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    """§6.3 for the market data agent: which timeframes the agents after it read."""
    nodes = [n for n in graph.get("nodes", []) if isinstance(n, dict)]
    this = next((n for n in nodes if n.get("id") == node_id), None)
    if this is None or this.get("agent_type") != "market_data_agent":
        return None
    readers = []
    needed: set[str] = set()
    for node in nodes:
        cls = agent_class(node.get("agent_type", ""))
        if cls is None or node.get("agent_type") == "market_data_agent":
            continue
        config, _ = validate_node_config(node["agent_type"], node.get("config") or {})
        frames = sorted(cls.required_timeframes(config), key=timeframe_rank)
        if frames:
            role = {"bias_agent": "analysis", "strategy_agent": "execution"}.get(
                node["agent_type"], "reads"
            )
            readers.append(
                {
                    "node": node.get("id"),
                    "name": cls.metadata.name,
                    "role": role,
                    "timeframes": frames,
                }
            )
            needed.update(frames)
    config, _ = validate_node_config("market_data_agent", this.get("config") or {})
    fetched = set(config.get("timeframes") or [])
    return {
        "readers": readers,
        "missing": sorted(needed - fetched, key=timeframe_rank),
        "needed": sorted(needed, key=timeframe_rank),
    }


@login_required
@require_POST
def builder_node(request):
    """The side panel for one node: its config form rendered from the agent's JSON Schema,
    with the server's errors and warnings for that node on the fields they name."""
    agent_type = request.POST.get("agent_type", "")
    cls = agent_class(agent_type)
    if cls is None or cls.metadata.is_system_agent:
        return HttpResponseBadRequest("Unknown agent type.")
    node_id = request.POST.get("node_id", "")[:100]
    config = _json_field(request.POST.get("config"), {})
    graph = _json_field(request.POST.get("graph"), {"nodes": [], "edges": []})
    values, own_errors = validate_node_config(
        agent_type, config if isinstance(config, dict) else {}
    )
    issues = [
        {"field": f"config.{e.field}", "msg": e.message, "level": "error"} for e in own_errors
    ]
    if isinstance(graph, dict):
        check = validate_graph(graph)
        for issue in _issue_dicts(check):
            if (
                issue["node_id"] == node_id and not (issue["field"] or "").startswith("config.")
            ) or (issue["node_id"] == node_id and issue["level"] == "warning"):
                issues.append(issue)
    schema = cls.metadata.config_schema
    if agent_type == CUSTOM_AGENT_TYPE:
        schema = custom_strategy_schema(user=request.user, values=values)
    fields, unplaced = config_fields(
        agent_type=agent_type, schema=schema, values=values, issues=issues
    )
    if agent_type == CUSTOM_AGENT_TYPE:
        _label_custom_strategy_fields(fields, schema=schema, user=request.user)
    context = {
        "meta": cls.metadata,
        "node_id": node_id,
        "fields": fields,
        "unplaced": unplaced,
        "icon": CATEGORY_ICONS.get(cls.metadata.category, "•"),
        "has_engine": "engine" in cls.metadata.config_schema.get("properties", {}),
        "llm_configured": llm_configured(),
        "guidance": _timeframe_guidance(graph if isinstance(graph, dict) else {}, node_id),
    }
    return render(request, "pipelines/builder.html#node-panel", context)


@login_required
@require_POST
def builder_validate(request):
    """Check the canvas without saving: errors and warnings, each naming its node."""
    graph = _json_field(request.POST.get("graph"), None)
    if not isinstance(graph, dict):
        return HttpResponseBadRequest("Send the graph as JSON.")
    check = validate_graph(graph)
    issues = _issue_dicts(check)
    context = {
        "issues": issues,
        "error_count": sum(1 for i in issues if i["level"] == "error"),
        "validated": True,
    }
    return render(request, "pipelines/builder.html#graph-issues", context)


# --- Executions and the live monitor -----------------------------------------------------------


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


# --- Reports -----------------------------------------------------------------------------------

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


# --- Live fragments (rendered by the HTML websocket consumer) ----------------------------------

CHART_AGENTS = {"market_data_agent", "strategy_agent", "trade_manager_agent"}
EXECUTION_ROW_EVENTS = {"execution_started", "execution_waiting", "execution_completed", "error"}


def live_execution_fragments(*, user, execution_id, payload: dict[str, Any]) -> list[str]:
    """What one event of a run changes on its page, as out-of-band fragments."""
    from django.template.loader import render_to_string

    try:
        execution = selectors.execution_get(user=user, execution_id=execution_id)
    except PipelineExecution.DoesNotExist:
        return []
    event = payload.get("event")
    fragments = []
    agent_id = payload.get("agent_id")
    if agent_id and event in ("agent_started", "agent_completed", "error"):
        step = next((s for s in execution.steps.all() if s.node_id == agent_id), None)
        if step is not None:
            fragments.append(
                render_to_string(
                    "pipelines/execution.html#step-row",
                    {
                        "step": step_row(
                            step,
                            llm_ready=llm_configured(),
                            configured=configured_engines(execution.graph).get(step.node_id),
                        ),
                        "oob": True,
                    },
                )
            )
    fragments.append(
        render_to_string(
            "pipelines/execution.html#status", {**execution_status_context(execution), "oob": True}
        )
    )
    if event in ("trade_executed", "execution_completed"):
        fragments.append(
            render_to_string(
                "pipelines/execution.html#trades",
                {"trades": execution_trades(execution), "execution": execution, "oob": True},
            )
        )
    if event == "execution_completed" or (
        event == "agent_completed" and payload.get("agent_type") in CHART_AGENTS
    ):
        fragments.append(
            render_to_string(
                "pipelines/execution.html#charts",
                {"charts": execution_charts(execution), "execution": execution, "oob": True},
            )
        )
    return fragments


def live_user_fragments(*, user, payload: dict[str, Any], topics: set[str]) -> list[str]:
    """What one event of a user changes on the page they look at: the bell and a toast for a
    notification, a position row, an execution row."""
    from django.template.loader import render_to_string

    from accounts.selectors import notifications_unread_count
    from trading.views import live_position_rows

    event = payload.get("event")
    if event == "notification":
        return [
            render_to_string(
                "partials/bell.html",
                {"unread": notifications_unread_count(user=user), "oob": True},
            ),
            render_to_string(
                "partials/toast.html",
                {
                    "level": payload.get("level", "info"),
                    "title": payload.get("title", ""),
                    "message": payload.get("message", ""),
                    "link": payload.get("link", ""),
                },
            ),
        ]
    if event == "position_updated" and "positions" in topics:
        return live_position_rows(user=user, payload=payload)
    if event in EXECUTION_ROW_EVENTS and "executions" in topics and payload.get("execution_id"):
        try:
            execution = selectors.execution_row_get(user=user, execution_id=payload["execution_id"])
        except (PipelineExecution.DoesNotExist, ValidationError):
            return []
        return [
            render_to_string(
                "pipelines/executions.html#execution-row", {"execution": execution, "oob": True}
            )
        ]
    if event == "position_updated" and "analytics" in topics:
        from analytics.views import live_analytics_fragments

        return live_analytics_fragments(payload=payload)
    # A backtest's page subscribes to that backtest only ("backtest:<id>"), a sweep's page to
    # that sweep ("sweep:<id>"): their cards' ids are the same on every such page.
    if event == "backtest_progress":
        from pipelines.backtest.views import backtest_live_fragments

        return backtest_live_fragments(user=user, payload=payload, topics=topics)
    return []
