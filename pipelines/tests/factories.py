"""Factories and graphs for pipeline tests."""

from __future__ import annotations

import copy

from pipelines.blueprints import DAY_TRADING


def day_trading_graph() -> dict:
    return copy.deepcopy(DAY_TRADING.graph)


def minimal_graph() -> dict:
    return {
        "nodes": [
            {
                "id": "t",
                "agent_type": "time_trigger",
                "config": {"schedule": {"type": "market_hours"}},
            },
            {"id": "md", "agent_type": "market_data_agent", "config": {"timeframes": ["5m"]}},
        ],
        "edges": [{"from": "t", "to": "md"}],
    }


def pipeline_payload(**overrides) -> dict:
    payload = {"name": "My day-trading bot", "graph": day_trading_graph(), "symbols": ["aapl"]}
    payload.update(overrides)
    return payload
