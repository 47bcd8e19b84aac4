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
    """Check a graph phase by phase — its JSON shape, its size, each node, each edge, that it is
    a DAG, then the rules of a pipeline's shape — stopping at the first phase with errors; a
    graph without errors gets its order, its normalized form and any warnings."""
    check = GraphCheck()
    check.errors = _structure_errors(graph)
    if check.errors:
        return check
    raw_nodes: list[Any] = graph["nodes"]
    check.errors = _size_errors(raw_nodes)
    if check.errors:
        return check
    nodes, seen_ids = _checked_nodes(raw_nodes, check.errors)
    edges = _checked_edges(graph.get("edges", []), seen_ids, check.errors)
    if check.errors:
        return check
    types = {node["id"]: node["agent_type"] for node in nodes}
    node_ids = list(types)
    order = topological_order(node_ids, edges)
    if order is None:
        check.errors.append(_cycle_issue(node_ids, edges))
        return check
    check.errors = _trigger_errors(node_ids, types, edges) + _risk_before_trade_errors(
        node_ids, types, edges
    )
    if check.errors:
        return check
    check.warnings.extend(_timeframe_warnings(nodes))
    check.order = order
    check.normalized = {"nodes": nodes, "edges": [{"from": s, "to": t} for s, t in edges]}
    return check


def _size_errors(raw_nodes: list[Any]) -> list[GraphIssue]:
    if not raw_nodes:
        return [GraphIssue("A pipeline needs at least one agent.", loc=("nodes",))]
    if len(raw_nodes) > MAX_NODES:
        return [GraphIssue(f"At most {MAX_NODES} agents.", loc=("nodes",))]
    return []


def _checked_nodes(
    raw_nodes: list[Any], errors: list[GraphIssue]
) -> tuple[list[dict[str, Any]], set[str]]:
    """The valid nodes, normalized, and every id seen (edges may name a node whose type or
    config is wrong: that node's own error says so); issues go to `errors`."""
    nodes: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    for index, node in enumerate(raw_nodes):
        loc = ("nodes", index)
        node_id = _node_id(node, loc, seen_ids, errors)
        if node_id is None:
            continue
        seen_ids.add(node_id)
        checked = _checked_node(node, node_id, loc, errors)
        if checked is not None:
            nodes.append(checked)
    return nodes, seen_ids


def _node_id(node: Any, loc: tuple, seen_ids: set[str], errors: list[GraphIssue]) -> str | None:
    if not isinstance(node, dict):
        errors.append(GraphIssue("Each node must be an object.", loc=loc))
        return None
    node_id = node.get("id")
    if not isinstance(node_id, str) or not node_id.strip() or len(node_id) > 100:
        errors.append(
            GraphIssue("Each node needs an 'id' (1–100 characters).", field="id", loc=(*loc, "id"))
        )
        return None
    if node_id in seen_ids:
        errors.append(GraphIssue(f"Duplicate node id {node_id!r}.", node_id, "id", (*loc, "id")))
        return None
    return node_id


def _checked_node(
    node: dict, node_id: str, loc: tuple, errors: list[GraphIssue]
) -> dict[str, Any] | None:
    """The node normalized (its config validated against its agent's schema); None when its
    agent type is unknown or added automatically."""
    agent_type = node.get("agent_type")
    cls = agent_class(agent_type) if isinstance(agent_type, str) else None
    if cls is None:
        message = f"Unknown agent type {agent_type!r}."
    elif cls.metadata.is_system_agent:
        message = f"{cls.metadata.name} is added to every pipeline automatically."
    else:
        message = ""
    if message:
        errors.append(GraphIssue(message, node_id, "agent_type", (*loc, "agent_type")))
        return None
    config, config_errors = validate_node_config(agent_type, node.get("config"))
    for error in config_errors:
        errors.append(
            GraphIssue(
                f"{cls.metadata.name}: {error.field} {error.message}",
                node_id,
                f"config.{error.field}",
                (*loc, "config", *error.field.split(".")),
            )
        )
    position = node.get("position") if isinstance(node.get("position"), dict) else {}
    return {
        "id": node_id,
        "agent_type": agent_type,
        "position": {"x": position.get("x", 0), "y": position.get("y", 0)},
        "config": config,
    }


def _checked_edges(
    raw_edges: list[Any], seen_ids: set[str], errors: list[GraphIssue]
) -> list[tuple[str, str]]:
    """The edges between known nodes, each once; issues go to `errors`."""
    edges: list[tuple[str, str]] = []
    for index, edge in enumerate(raw_edges):
        loc = ("edges", index)
        if not isinstance(edge, dict):
            errors.append(GraphIssue("Each edge must be an object.", loc=loc))
            continue
        source, target = edge.get("from"), edge.get("to")
        for end, value in (("from", source), ("to", target)):
            if value not in seen_ids:
                errors.append(
                    GraphIssue(f"Edge {end} unknown node {value!r}.", None, end, (*loc, end))
                )
        if source in seen_ids and target in seen_ids:
            if source == target:
                errors.append(GraphIssue("An agent cannot feed itself.", source, "edges", (*loc,)))
            elif (source, target) not in edges:
                edges.append((source, target))
    return edges


def _cycle_issue(node_ids: list[str], edges: list[tuple[str, str]]) -> GraphIssue:
    members = find_cycle(node_ids, edges)
    return GraphIssue(
        f"The graph has a cycle through {', '.join(members)}; agents must form a DAG.",
        members[0],
        "edges",
        ("edges",),
    )


def _trigger_errors(
    node_ids: list[str], types: dict[str, str], edges: list[tuple[str, str]]
) -> list[GraphIssue]:
    """A pipeline starts with a trigger, and every other agent hangs after one."""
    categories = {n: agent_class(types[n]).metadata.category for n in node_ids}
    triggers = [n for n in node_ids if categories[n] == TRIGGER_CATEGORY]
    if not triggers:
        return [
            GraphIssue(
                "A pipeline starts with a trigger (time, technical, price or news trigger).",
                loc=("nodes",),
            )
        ]
    has_parent = {target for _, target in edges}
    return [
        GraphIssue(
            "Connect this agent after the trigger: every pipeline starts with a trigger.",
            node_id,
            "edges",
            ("nodes", index),
        )
        for index, node_id in enumerate(node_ids)
        if node_id not in has_parent and categories[node_id] != TRIGGER_CATEGORY
    ]


def _risk_before_trade_errors(
    node_ids: list[str], types: dict[str, str], edges: list[tuple[str, str]]
) -> list[GraphIssue]:
    """A trade manager needs a risk manager upstream (it sizes the order)."""
    return [
        GraphIssue(
            "The trade manager must come after a risk manager, which sizes the order.",
            node_id,
            "edges",
            ("nodes", index),
        )
        for index, node_id in enumerate(node_ids)
        if types[node_id] == "trade_manager_agent"
        and not any(types[a] == "risk_manager_agent" for a in _ancestors(node_id, edges))
    ]


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
