"""What the pipeline pages share: the owned object or 404, form parsing, graph layout and
the palette's categories."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme

from agents.registry import agent_class
from pipelines import selectors
from pipelines.graph import (
    GraphIssue,
    topological_order,
)
from pipelines.models import (
    Pipeline,
    PipelineExecution,
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


# --- Helpers ----------------------------------------------------------------------------------
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
