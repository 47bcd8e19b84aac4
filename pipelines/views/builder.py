"""The visual builder: the agent palette, the node config forms and live graph validation."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from agents.custom.agent import AGENT_TYPE as CUSTOM_AGENT_TYPE
from agents.custom.agent import custom_strategy_schema
from agents.custom.selectors import active_strategies_for_user
from agents.registry import agent_class, all_metadata, validate_node_config
from pipelines import blueprints, services
from pipelines.config_fields import config_fields
from pipelines.forms import PipelineSettingsForm
from pipelines.graph import (
    InvalidGraph,
    validate_graph,
)
from pipelines.models import (
    Pipeline,
)
from pipelines.selectors import (
    llm_configured,
    timeframe_rank,
)
from pipelines.views.helpers import (
    CATEGORY_ICONS,
    CATEGORY_LABELS,
    CATEGORY_ORDER,
    _issue_dicts,
    _issues_from_errors,
    _json_field,
    _owned_pipeline,
)
from pipelines.views.pages import (
    _mode_context,
)


# --- Builder ----------------------------------------------------------------------------------
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
