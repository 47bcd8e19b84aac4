"""Pipeline graphs: validation (a DAG of known agents with valid configs, trigger first, trade
manager after the risk manager) with errors naming the node and field, and the run order."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from agents.registry import agent_class, validate_node_config

MAX_NODES = 40
TRIGGER_CATEGORY = "trigger"


@dataclass(frozen=True)
class GraphIssue:
    message: str
    node_id: str | None = None
    field: str | None = None
    loc: tuple[Any, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "loc": ["body", "graph", *self.loc],
            "node_id": self.node_id,
            "field": self.field,
            "msg": self.message,
        }


@dataclass
class GraphCheck:
    errors: list[GraphIssue] = field(default_factory=list)
    warnings: list[GraphIssue] = field(default_factory=list)
    # The graph with every node's config completed with its schema defaults.
    normalized: dict[str, Any] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class InvalidGraph(Exception):
    def __init__(self, errors: list[GraphIssue]):
        super().__init__("; ".join(f"{e.node_id or 'graph'}: {e.message}" for e in errors))
        self.errors = errors


def _node_label(node: dict[str, Any]) -> str:
    return str(node.get("id") or "?")


def _structure_errors(graph: Any) -> list[GraphIssue]:
    if not isinstance(graph, dict):
        return [GraphIssue("The graph must be an object with 'nodes' and 'edges'.")]
    errors = []
    if not isinstance(graph.get("nodes"), list):
        errors.append(GraphIssue("'nodes' must be a list.", loc=("nodes",)))
    if not isinstance(graph.get("edges", []), list):
        errors.append(GraphIssue("'edges' must be a list.", loc=("edges",)))
    return errors


def topological_order(node_ids: list[str], edges: list[tuple[str, str]]) -> list[str] | None:
    """Kahn's algorithm; ties keep the nodes' list order. None when there is a cycle."""
    incoming = dict.fromkeys(node_ids, 0)
    children: dict[str, list[str]] = {node_id: [] for node_id in node_ids}
    for source, target in edges:
        children[source].append(target)
        incoming[target] += 1
    rank = {node_id: index for index, node_id in enumerate(node_ids)}
    ready = deque(sorted((n for n in node_ids if incoming[n] == 0), key=rank.__getitem__))
    order = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for child in sorted(children[node_id], key=rank.__getitem__):
            incoming[child] -= 1
            if incoming[child] == 0:
                ready.append(child)
    return order if len(order) == len(node_ids) else None


def find_cycle(node_ids: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """The nodes of one cycle, in edge order (empty for a DAG)."""
    children: dict[str, list[str]] = {node_id: [] for node_id in node_ids}
    for source, target in edges:
        children[source].append(target)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node_id: str) -> list[str]:
        state[node_id] = 1
        path.append(node_id)
        for child in children[node_id]:
            if state.get(child) == 1:
                return path[path.index(child) :]
            if child not in state and (cycle := visit(child)):
                return cycle
        state[node_id] = 2
        path.pop()
        return []

    for node_id in node_ids:
        if node_id not in state and (cycle := visit(node_id)):
            return cycle
    return []


def _ancestors(node_id: str, edges: list[tuple[str, str]]) -> set[str]:
    parents: dict[str, set[str]] = {}
    for source, target in edges:
        parents.setdefault(target, set()).add(source)
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def validate_graph(graph: Any) -> GraphCheck:
    check = GraphCheck()
    check.errors = _structure_errors(graph)
    if check.errors:
        return check
    raw_nodes: list[Any] = graph["nodes"]
    raw_edges: list[Any] = graph.get("edges", [])
    if not raw_nodes:
        check.errors.append(GraphIssue("A pipeline needs at least one agent.", loc=("nodes",)))
        return check
    if len(raw_nodes) > MAX_NODES:
        check.errors.append(GraphIssue(f"At most {MAX_NODES} agents.", loc=("nodes",)))
        return check

    nodes: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    types: dict[str, str] = {}
    for index, node in enumerate(raw_nodes):
        loc = ("nodes", index)
        if not isinstance(node, dict):
            check.errors.append(GraphIssue("Each node must be an object.", loc=loc))
            continue
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id.strip() or len(node_id) > 100:
            check.errors.append(
                GraphIssue(
                    "Each node needs an 'id' (1–100 characters).", field="id", loc=(*loc, "id")
                )
            )
            continue
        if node_id in seen_ids:
            check.errors.append(
                GraphIssue(f"Duplicate node id {node_id!r}.", node_id, "id", (*loc, "id"))
            )
            continue
        seen_ids.add(node_id)
        agent_type = node.get("agent_type")
        cls = agent_class(agent_type) if isinstance(agent_type, str) else None
        if cls is None:
            check.errors.append(
                GraphIssue(
                    f"Unknown agent type {agent_type!r}.",
                    node_id,
                    "agent_type",
                    (*loc, "agent_type"),
                )
            )
            continue
        if cls.metadata.is_system_agent:
            check.errors.append(
                GraphIssue(
                    f"{cls.metadata.name} is added to every pipeline automatically.",
                    node_id,
                    "agent_type",
                    (*loc, "agent_type"),
                )
            )
            continue
        config, config_errors = validate_node_config(agent_type, node.get("config"))
        for error in config_errors:
            check.errors.append(
                GraphIssue(
                    f"{cls.metadata.name}: {error.field} {error.message}",
                    node_id,
                    f"config.{error.field}",
                    (*loc, "config", *error.field.split(".")),
                )
            )
        position = node.get("position") if isinstance(node.get("position"), dict) else {}
        nodes.append(
            {
                "id": node_id,
                "agent_type": agent_type,
                "position": {"x": position.get("x", 0), "y": position.get("y", 0)},
                "config": config,
            }
        )
        types[node_id] = agent_type

    edges: list[tuple[str, str]] = []
    for index, edge in enumerate(raw_edges):
        loc = ("edges", index)
        if not isinstance(edge, dict):
            check.errors.append(GraphIssue("Each edge must be an object.", loc=loc))
            continue
        source, target = edge.get("from"), edge.get("to")
        for end, value in (("from", source), ("to", target)):
            if value not in seen_ids:
                check.errors.append(
                    GraphIssue(f"Edge {end} unknown node {value!r}.", None, end, (*loc, end))
                )
        if source in seen_ids and target in seen_ids:
            if source == target:
                check.errors.append(
                    GraphIssue("An agent cannot feed itself.", source, "edges", (*loc,))
                )
            elif (source, target) not in edges:
                edges.append((source, target))
    if check.errors:
        return check

    node_ids = [node["id"] for node in nodes]
    order = topological_order(node_ids, edges)
    if order is None:
        members = find_cycle(node_ids, edges)
        check.errors.append(
            GraphIssue(
                f"The graph has a cycle through {', '.join(members)}; agents must form a DAG.",
                members[0],
                "edges",
                ("edges",),
            )
        )
        return check

    categories = {n: agent_class(types[n]).metadata.category for n in node_ids}
    has_parent = {target for _, target in edges}
    triggers = [n for n in node_ids if categories[n] == TRIGGER_CATEGORY]
    if not triggers:
        check.errors.append(
            GraphIssue(
                "A pipeline starts with a trigger (time, technical, price or news trigger).",
                loc=("nodes",),
            )
        )
    for node_id in node_ids:
        if node_id not in has_parent and categories[node_id] != TRIGGER_CATEGORY and triggers:
            check.errors.append(
                GraphIssue(
                    "Connect this agent after the trigger: every pipeline starts with a trigger.",
                    node_id,
                    "edges",
                    ("nodes", node_ids.index(node_id)),
                )
            )
    for node_id in node_ids:
        if types[node_id] == "trade_manager_agent":
            ancestors = _ancestors(node_id, edges)
            if not any(types[a] == "risk_manager_agent" for a in ancestors):
                check.errors.append(
                    GraphIssue(
                        "The trade manager must come after a risk manager, which sizes the order.",
                        node_id,
                        "edges",
                        ("nodes", node_ids.index(node_id)),
                    )
                )
    if check.errors:
        return check

    check.warnings.extend(_timeframe_warnings(nodes))
    check.order = order
    check.normalized = {"nodes": nodes, "edges": [{"from": s, "to": t} for s, t in edges]}
    return check


def required_timeframes(nodes: list[dict[str, Any]]) -> set[str]:
    needed: set[str] = set()
    for node in nodes:
        cls = agent_class(node["agent_type"])
        if cls is not None and node["agent_type"] != "market_data_agent":
            needed |= cls.required_timeframes(node.get("config") or {})
    return needed


def _timeframe_warnings(nodes: list[dict[str, Any]]) -> list[GraphIssue]:
    """§6.3: the market data agent must fetch every timeframe the agents after it read."""
    needed = required_timeframes(nodes)
    warnings = []
    for node in nodes:
        if node["agent_type"] != "market_data_agent":
            continue
        fetched = set(node["config"].get("timeframes") or [])
        missing = sorted(needed - fetched)
        if missing:
            warnings.append(
                GraphIssue(
                    f"Other agents read {', '.join(missing)}; they will be fetched too. Add them "
                    "to this agent's timeframes to make that explicit.",
                    node["id"],
                    "config.timeframes",
                )
            )
    return warnings


def validated_graph(graph: Any) -> GraphCheck:
    check = validate_graph(graph)
    if not check.ok:
        raise InvalidGraph(check.errors)
    return check


def has_trigger_node(graph: Any) -> bool:
    """Whether the graph has a trigger agent (a run may wait at it, or skip it on "Run now")."""
    for node in (graph or {}).get("nodes", []):
        cls = agent_class(node.get("agent_type", ""))
        if cls is not None and cls.metadata.category == "trigger":
            return True
    return False
