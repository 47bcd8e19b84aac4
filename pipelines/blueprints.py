"""Ready-made pipelines ("templates") in the spec's §5.1 shape; the demo account gets each one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import User
from pipelines.graph import GraphCheck
from pipelines.models import Pipeline
from trading.indicators import DEFAULT_INDICATORS


@dataclass(frozen=True)
class Blueprint:
    key: str
    name: str
    description: str
    primary_timeframe: str
    symbols: list[str]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def graph(self) -> dict[str, Any]:
        edges = self.edges or [
            {"from": a["id"], "to": b["id"]}
            for a, b in zip(self.nodes, self.nodes[1:], strict=False)
        ]
        return {"nodes": self.nodes, "edges": edges}

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "primary_timeframe": self.primary_timeframe,
            "symbols": self.symbols,
            "graph": self.graph,
        }


def _node(index: int, agent_type: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"node-{index}",
        "agent_type": agent_type,
        "position": {"x": 80 + 220 * (index - 1), "y": 120 + (40 if index % 2 else 0)},
        "config": config,
    }


DAY_TRADING = Blueprint(
    key="day_trading_5m",
    name="Day-trading bot (5m)",
    description=(
        "Five minutes after the open: reads 1h/4h/1d for the bias, plans a 5-minute entry with an "
        "ATR stop and 1.5R / 3R targets, sizes it at 1% risk and places a bracket order."
    ),
    primary_timeframe="5m",
    symbols=["AAPL", "MSFT", "NVDA", "TSLA", "AMD", "JPM"],
    nodes=[
        _node(1, "time_trigger", {"schedule": {"type": "market_hours", "offset_minutes": 5}}),
        _node(
            2,
            "market_data_agent",
            {
                "timeframes": ["5m", "1h", "4h", "1d"],
                "indicators": list(DEFAULT_INDICATORS),
            },
        ),
        _node(
            3, "bias_agent", {"analysis_timeframes": ["1h", "4h", "1d"], "confidence_threshold": 55}
        ),
        _node(4, "strategy_agent", {"timeframe": "5m", "risk_reward_min": 1.5}),
        _node(5, "risk_manager_agent", {"risk_per_trade_pct": 1.0, "max_position_pct": 10}),
        _node(6, "trade_manager_agent", {"partial_exit_split": [50, 50]}),
        _node(7, "reporting_agent", {}),
    ],
)

GOLDEN_CROSS = Blueprint(
    key="golden_cross_1d",
    name="Golden-cross swing (1d)",
    description=(
        "Swing trades in golden-cross regimes: SMA50 above SMA200 and price above SMA50 on daily "
        "bars; bias from 4h/1d, swing-low stop, targets at 1.5R and 3R."
    ),
    primary_timeframe="1d",
    symbols=["AAPL", "MSFT", "NVDA", "AMZN", "JPM", "XOM"],
    nodes=[
        _node(
            1,
            "technical_trigger",
            {
                "logic": "AND",
                "conditions": [
                    {
                        "indicator": "sma_50",
                        "operator": ">",
                        "compare_to": "sma_200",
                        "timeframe": "1d",
                    },
                    {
                        "indicator": "close",
                        "operator": ">",
                        "compare_to": "sma_50",
                        "timeframe": "1d",
                    },
                ],
            },
        ),
        _node(2, "market_data_agent", {"timeframes": ["4h", "1d"]}),
        _node(
            3,
            "bias_agent",
            {
                "analysis_timeframes": ["4h", "1d"],
                "confidence_threshold": 50,
                "min_bias_score": 0.5,
            },
        ),
        _node(
            4, "strategy_agent", {"timeframe": "1d", "stop_method": "swing", "risk_reward_min": 1.5}
        ),
        _node(5, "risk_manager_agent", {"risk_per_trade_pct": 1.0, "max_position_pct": 15}),
        _node(6, "trade_manager_agent", {}),
        _node(7, "reporting_agent", {"summary_style": "detailed"}),
    ],
)

SCANNER_TOP5 = Blueprint(
    key="scanner_top5",
    name="Multi-symbol scanner (top 5)",
    description=(
        "At the open, screens the market for the five most active liquid movers, keeps those with "
        "a clear bias, and plans 15-minute trades for them."
    ),
    primary_timeframe="15m",
    symbols=[],
    nodes=[
        _node(1, "time_trigger", {"schedule": {"type": "market_hours", "offset_minutes": 15}}),
        _node(
            2,
            "stock_picker_agent",
            {
                "source": "screener",
                "top_n": 5,
                "screener": {"min_price": 10, "min_avg_volume": 500000},
            },
        ),
        _node(3, "market_data_agent", {"timeframes": ["15m", "1h", "4h", "1d"]}),
        _node(
            4,
            "bias_agent",
            {
                "analysis_timeframes": ["1h", "4h", "1d"],
                "min_bias_score": 0.5,
                "confidence_threshold": 50,
            },
        ),
        _node(5, "strategy_agent", {"timeframe": "15m"}),
        _node(6, "risk_manager_agent", {"risk_per_trade_pct": 0.5, "max_position_pct": 10}),
        _node(7, "trade_manager_agent", {}),
        _node(8, "reporting_agent", {}),
    ],
)

BLUEPRINTS: dict[str, Blueprint] = {b.key: b for b in (DAY_TRADING, GOLDEN_CROSS, SCANNER_TOP5)}


def all_blueprints() -> list[Blueprint]:
    return list(BLUEPRINTS.values())


def pipeline_create_from_blueprint(
    *, owner: User, key: str, name: str | None = None, symbols: list[str] | None = None
) -> tuple[Pipeline, GraphCheck]:
    from pipelines.services import free_pipeline_name, pipeline_create

    blueprint = BLUEPRINTS.get(key)
    if blueprint is None:
        raise ValidationError(
            {"template_key": f"Unknown template {key!r}; one of {', '.join(BLUEPRINTS)}."}
        )
    return pipeline_create(
        owner=owner,
        # A template used twice gets "Name (2)"; a name the trader typed must be free.
        name=name or free_pipeline_name(owner=owner, name=blueprint.name),
        description=blueprint.description,
        graph=blueprint.graph,
        symbols=symbols if symbols is not None else blueprint.symbols,
        primary_timeframe=blueprint.primary_timeframe,
        settings=blueprint.settings,
        template_key=blueprint.key,
    )


def demo_pipelines_seed(*, owner: User) -> list[Pipeline]:
    """One pipeline from each template for the demo account (once)."""
    existing = set(owner.pipelines.values_list("template_key", flat=True))
    created = []
    for blueprint in all_blueprints():
        if blueprint.key not in existing:
            pipeline, _ = pipeline_create_from_blueprint(owner=owner, key=blueprint.key)
            created.append(pipeline)
    return created
