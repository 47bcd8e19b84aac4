"""A pipeline's graph read as a backtest plan: entry and exit conditions, bracket levels,
sizing and end-of-day rules, each taken from the node that owns it in a live run.

A plan is refused (PlanError naming the node and field) when the pipeline asks for something the
backtester does not replay yet, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.builtin.conditions import Condition, parse_condition
from agents.errors import AgentError
from agents.registry import agent_class, validate_node_config

TRIGGERS = ("technical_trigger", "price_trigger", "time_trigger", "news_trigger")
PRICE_OPERATORS = {
    "above": ">",
    "below": "<",
    "crosses_above": "crosses_above",
    "crosses_below": "crosses_below",
}


class PlanError(ValueError):
    """The pipeline cannot be backtested as configured; `field` says where (node.field)."""

    def __init__(self, message: str, *, field: str = "pipeline"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Sizing:
    method: str = "equity_fraction"
    equity_fraction_pct: float = 100.0
    fixed_quantity: int = 100
    risk_per_trade_pct: float = 1.0
    max_position_pct: float = 100.0


@dataclass(frozen=True)
class BacktestPlan:
    """What the engine needs from the pipeline (all plain data, picklable for Celery chunks)."""

    entry_conditions: tuple[Condition, ...] = ()
    entry_logic: str = "AND"
    exit_conditions: tuple[Condition, ...] = ()
    exit_logic: str = "OR"
    side: str = "long"
    # Bracket from the strategy node (None: no stop or targets, exits by condition only).
    stop_method: str | None = None  # "atr" | "swing"
    swing_lookback: int = 10
    atr_multiplier: float | None = None
    target_1_r: float | None = None
    target_2_r: float | None = None
    min_risk_reward: float | None = None
    partial_exit_pct: int = 50
    move_stop_to_breakeven: bool = True
    sizing: Sizing = field(default_factory=Sizing)
    flatten_end_of_day: bool = False
    # The pipeline's validated schedule (trading window, active days) and its Time Trigger's
    # config, replayed by pipelines.backtest.sessions; None when it has none.
    schedule: dict | None = None
    time_trigger: dict | None = None
    news_trigger: dict | None = None
    # The Custom Strategy node that decides entries and levels (pipelines.backtest.custom).
    custom_strategy: str | None = None

    @property
    def timeframes(self) -> set[str]:
        return {c.timeframe for c in (*self.entry_conditions, *self.exit_conditions)}


def _config(node: dict[str, Any]) -> dict[str, Any]:
    config, errors = validate_node_config(node["agent_type"], node.get("config") or {})
    if errors:
        error = errors[0]
        raise PlanError(
            f"Node {node['id']}: {error.field} {error.message}.",
            field=f"{node['id']}.{error.field}",
        )
    return config


def _conditions(node, raws, default_timeframe) -> tuple[Condition, ...]:
    try:
        return tuple(
            parse_condition(raw, default_timeframe=default_timeframe, position=index)
            for index, raw in enumerate(raws, start=1)
        )
    except AgentError as error:
        raise PlanError(f"Node {node['id']}: {error}", field=f"{node['id']}.conditions") from None


def plan_from_pipeline(
    *, graph: dict, schedule: dict | None, timeframe: str, side: str = "long"
) -> BacktestPlan:
    """Read the pipeline's nodes into a plan; `timeframe` is the dataset's (the default of
    conditions that name none)."""
    nodes = {node["agent_type"]: node for node in graph.get("nodes", [])}
    for node in graph.get("nodes", []):
        if agent_class(node["agent_type"]) is None:
            raise PlanError(f"Node {node['id']}: unknown agent type.", field=node["id"])
        config = node.get("config") or {}
        if config.get("engine") == "llm" and node["agent_type"] != "news_trigger":
            # The News Trigger's LLM engine replays within a budget (llm_budget); the others
            # are not replayed yet: the rules engine is the cheap, deterministic path.
            raise PlanError(
                f"Node {node['id']} uses the LLM engine; backtests run it only on the News "
                "Trigger. Switch the node to 'rules' to backtest it.",
                field=f"{node['id']}.engine",
            )
    kwargs: dict[str, Any] = {"side": side, **_timing(nodes, schedule)}
    trigger = nodes.get("technical_trigger")
    price = nodes.get("price_trigger")
    custom = nodes.get("custom_strategy")
    timed = kwargs["time_trigger"] is not None or kwargs["news_trigger"] is not None
    if trigger is None and price is None and timed:
        if custom is None:
            _time_trigger_alone(nodes, side)
    elif trigger is not None:
        config = _config(trigger)
        kwargs["entry_conditions"] = _conditions(trigger, config["conditions"], timeframe)
        kwargs["entry_logic"] = config["logic"]
    elif price is not None:
        config = price.get("config") or {}
        operator = PRICE_OPERATORS.get(config.get("condition", "above"))
        if operator is None or config.get("level") is None:
            raise PlanError(
                f"Node {price['id']}: backtests replay price triggers above, below or "
                "crossing a level (not percentage moves).",
                field=f"{price['id']}.condition",
            )
        kwargs["entry_conditions"] = (
            Condition("close", operator, timeframe, value=float(config["level"])),
        )
    else:
        raise PlanError(
            "A backtest replays entries from a Technical, Price, Time or News Trigger node; "
            "this pipeline has none.",
            field="graph.nodes",
        )
    if custom is not None:
        kwargs["custom_strategy"] = custom["id"]
    strategy = nodes.get("strategy_agent")
    if strategy is not None:
        config = _config(strategy)
        if config["target_method"] != "r_multiple":
            raise PlanError(
                f"Node {strategy['id']}: backtests replay R-multiple targets.",
                field=f"{strategy['id']}.target_method",
            )
        kwargs.update(
            stop_method=config["stop_method"],
            swing_lookback=int(config["swing_lookback"]),
            atr_multiplier=float(config["atr_multiplier"]),
            target_1_r=float(config["target_1_r"]),
            target_2_r=float(config["target_2_r"]),
        )
    risk = nodes.get("risk_manager_agent")
    if risk is not None:
        config = _config(risk)
        levels_set = strategy is not None or custom is not None
        kwargs["min_risk_reward"] = float(config["min_risk_reward"]) if levels_set else None
        kwargs["sizing"] = Sizing(
            method=config["sizing_method"],
            equity_fraction_pct=float(config["equity_fraction_pct"]),
            fixed_quantity=int(config["fixed_quantity"]),
            risk_per_trade_pct=float(config["risk_per_trade_pct"]),
            max_position_pct=float(config["max_position_pct"]),
        )
        if config["sizing_method"] == "risk_based" and not levels_set:
            raise PlanError(
                f"Node {risk['id']}: risk-based sizing needs a stop loss, which a Strategy node "
                "sets; add one or size with equity_fraction or fixed_quantity.",
                field=f"{risk['id']}.sizing_method",
            )
    manager = nodes.get("trade_manager_agent")
    if manager is not None:
        config = _config(manager)
        kwargs["exit_conditions"] = _conditions(manager, config["exit_conditions"], timeframe)
        kwargs["exit_logic"] = config["exit_logic"]
        kwargs["partial_exit_pct"] = int(config["partial_exit_split"][0])
        kwargs["move_stop_to_breakeven"] = bool(config["move_stop_to_breakeven"])
    kwargs["flatten_end_of_day"] = bool((schedule or {}).get("flatten_positions_at_end"))
    return BacktestPlan(**kwargs)


def _timing(nodes: dict[str, dict], schedule: dict | None) -> dict[str, Any]:
    """The schedule (validated as the live scheduler reads it) and the Time and News
    Triggers' configs."""
    from pydantic import ValidationError

    from pipelines.schedules import ScheduleConfig

    timing: dict[str, Any] = {"schedule": None, "time_trigger": None, "news_trigger": None}
    if schedule:
        try:
            timing["schedule"] = ScheduleConfig.model_validate(schedule).model_dump(mode="json")
        except ValidationError as error:
            item = error.errors()[0]
            where = ".".join(str(part) for part in item["loc"]) or "schedule"
            message = item["msg"].removeprefix("Value error, ")
            raise PlanError(f"Schedule {where}: {message}.", field=f"schedule.{where}") from None
    time_node = nodes.get("time_trigger")
    if time_node is not None:
        timing["time_trigger"] = _config(time_node)
    news = nodes.get("news_trigger")
    if news is not None:
        timing["news_trigger"] = _config(news)
    return timing


def _time_trigger_alone(nodes: dict[str, dict], side: str) -> None:
    """A Time or News Trigger with no condition trigger enters when it fires, on the plan's
    side; a Bias node would pick the side live, which the backtester does not replay yet."""
    bias = nodes.get("bias_agent")
    if bias is not None:
        raise PlanError(
            f"Node {bias['id']} (bias) picks the side after the trigger; backtests do not "
            "replay the bias agent yet. Add a Technical or Price Trigger for the entry, or "
            "remove the bias node and pick the side.",
            field=bias["id"],
        )
    if side == "both":
        raise PlanError(
            "Long and short reversals need entry and exit conditions; a time or news trigger "
            "alone enters on one side. Pick long or short.",
            field="side",
        )
