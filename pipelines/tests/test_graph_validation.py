"""Graph validation: a DAG of known agents, valid configs, a trigger first, trade after risk."""

import pytest

from pipelines.graph import topological_order, validate_graph
from pipelines.tests.factories import day_trading_graph, minimal_graph


def _errors(graph):
    return [(e.node_id, e.field, e.message) for e in validate_graph(graph).errors]


def test_a_template_graph_is_valid_and_ordered():
    check = validate_graph(day_trading_graph())
    assert check.ok, check.errors
    assert check.order == [f"node-{i}" for i in range(1, 8)]
    # Defaults are filled in.
    strategy = next(n for n in check.normalized["nodes"] if n["agent_type"] == "strategy_agent")
    assert strategy["config"]["target_2_r"] == 3.0


def test_a_cycle_is_rejected_naming_its_nodes():
    graph = day_trading_graph()
    graph["edges"].append({"from": "node-4", "to": "node-2"})
    errors = _errors(graph)
    assert len(errors) == 1
    _, field, message = errors[0]
    assert field == "edges"
    assert "cycle" in message
    assert "node-2" in message and "node-4" in message


def test_an_unknown_agent_type_is_rejected_naming_the_node():
    graph = minimal_graph()
    graph["nodes"][1]["agent_type"] = "crystal_ball_agent"
    assert _errors(graph) == [("md", "agent_type", "Unknown agent type 'crystal_ball_agent'.")]


def test_a_bad_config_value_names_node_and_field():
    graph = day_trading_graph()
    graph["nodes"][3]["config"]["risk_reward_min"] = 0.2
    errors = _errors(graph)
    assert errors[0][0] == "node-4"
    assert errors[0][1] == "config.risk_reward_min"
    assert "at least 1" in errors[0][2]


def test_a_graph_without_a_trigger_is_rejected():
    graph = day_trading_graph()
    graph["nodes"] = graph["nodes"][1:]
    graph["edges"] = graph["edges"][1:]
    messages = [message for _, _, message in _errors(graph)]
    assert any("starts with a trigger" in message for message in messages)


def test_the_trade_manager_must_follow_a_risk_manager():
    graph = day_trading_graph()
    graph["nodes"] = [n for n in graph["nodes"] if n["agent_type"] != "risk_manager_agent"]
    graph["edges"] = [
        {"from": "node-1", "to": "node-2"},
        {"from": "node-2", "to": "node-3"},
        {"from": "node-3", "to": "node-4"},
        {"from": "node-4", "to": "node-6"},
        {"from": "node-6", "to": "node-7"},
    ]
    assert _errors(graph) == [
        (
            "node-6",
            "edges",
            "The trade manager must come after a risk manager, which sizes the order.",
        )
    ]


def test_the_system_agent_cannot_be_placed_by_hand():
    graph = minimal_graph()
    graph["nodes"].append({"id": "pm", "agent_type": "pipeline_manager_agent", "config": {}})
    graph["edges"].append({"from": "t", "to": "pm"})
    assert any(node == "pm" for node, _, _ in _errors(graph))


@pytest.mark.parametrize(
    "graph",
    [None, [], {"nodes": "x"}, {"nodes": []}, {"nodes": [{"id": ""}]}, {"nodes": [1]}],
)
def test_malformed_graphs_are_errors_not_crashes(graph):
    assert not validate_graph(graph).ok


def test_edges_to_missing_nodes_are_named():
    graph = minimal_graph()
    graph["edges"].append({"from": "md", "to": "ghost"})
    assert "ghost" in str(_errors(graph))


def test_missing_downstream_timeframes_are_a_warning():
    graph = day_trading_graph()
    graph["nodes"][1]["config"]["timeframes"] = ["5m"]
    check = validate_graph(graph)
    assert check.ok
    assert check.warnings[0].node_id == "node-2"
    assert "1d" in check.warnings[0].message


def test_topological_order_keeps_list_order_for_ties():
    assert topological_order(["a", "b", "c"], [("a", "c")]) == ["a", "b", "c"]
    assert topological_order(["a", "b"], [("a", "b"), ("b", "a")]) is None
