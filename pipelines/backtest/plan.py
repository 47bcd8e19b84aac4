"""A pipeline's graph read as a backtest plan: entry and exit conditions, bracket levels,
sizing and end-of-day rules, each taken from the node that owns it in a live run.

A plan is refused (PlanError naming the node and field) when the pipeline asks for something the
backtester does not replay yet, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.builtin.conditions import parse_condition
from agents.errors import AgentError
from agents.registry import agent_class, validate_node_config
from trading.conditions import Condition

LLM_REPLAYED = (
    "news_trigger",
    "bias_agent",
    "strategy_agent",
)  # nodes whose LLM engine backtests replay
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
    # The Bias node's validated config (it picks each trade's side, pipelines.backtest.bias),
    # its id, and the indicators the Market Data node computes for it.
    bias: dict | None = None
    bias_node: str | None = None
    bias_indicators: tuple[str, ...] = ()
    # The Strategy node's validated config when it runs on the LLM engine (its crew sets the
    # levels of the trades the bias sides, pipelines.backtest.llm_strategy).
    strategy_llm: dict | None = None
    strategy_node: str | None = None

    @property
    def timeframes(self) -> set[str]:
        read = {c.timeframe for c in (*self.entry_conditions, *self.exit_conditions)}
        return read | set((self.bias or {}).get("analysis_timeframes") or ())


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
    _check_nodes(graph)
    nodes = {node["agent_type"]: node for node in graph.get("nodes", [])}
    kwargs: dict[str, Any] = {"side": side, **_timing(nodes, schedule)}
    custom = nodes.get("custom_strategy")
    kwargs.update(_entries(nodes, kwargs, timeframe, side))
    if custom is not None:
        kwargs["custom_strategy"] = custom["id"]
    kwargs.update(_bias(nodes, custom))
    strategy = nodes.get("strategy_agent")
    if strategy is not None:
        kwargs.update(_strategy(strategy, nodes))
    kwargs.update(_risk(nodes, levels_set=strategy is not None or custom is not None))
    manager = nodes.get("trade_manager_agent")
    if manager is not None:
        config = _config(manager)
        kwargs["exit_conditions"] = _conditions(manager, config["exit_conditions"], timeframe)
        kwargs["exit_logic"] = config["exit_logic"]
        kwargs["partial_exit_pct"] = int(config["partial_exit_split"][0])
        kwargs["move_stop_to_breakeven"] = bool(config["move_stop_to_breakeven"])
    kwargs["flatten_end_of_day"] = bool((schedule or {}).get("flatten_positions_at_end"))
    return BacktestPlan(**kwargs)


def _check_nodes(graph: dict) -> None:
    """Every node is a known agent, and an LLM engine only where backtests replay it."""
    for node in graph.get("nodes", []):
        if agent_class(node["agent_type"]) is None:
            raise PlanError(f"Node {node['id']}: unknown agent type.", field=node["id"])
        config = node.get("config") or {}
        if config.get("engine") == "llm" and node["agent_type"] not in LLM_REPLAYED:
            # The News Trigger's, Bias agent's and Strategy agent's LLM engines replay within a
            # budget (llm_budget); the others are not replayed yet: the rules engine is the
            # cheap, deterministic path.
            raise PlanError(
                f"Node {node['id']} uses the LLM engine; backtests run it only on the News "
                "Trigger, the Bias agent and the Strategy agent. Switch the node to 'rules' to "
                "backtest it.",
                field=f"{node['id']}.engine",
            )


def _entries(nodes: dict, timing: dict, timeframe: str, side: str) -> dict[str, Any]:
    """The entry conditions, from the Technical or Price Trigger (none: a Time or News
    Trigger's gate says when)."""
    trigger = nodes.get("technical_trigger")
    price = nodes.get("price_trigger")
    timed = timing["time_trigger"] is not None or timing["news_trigger"] is not None
    if trigger is None and price is None and timed:
        if nodes.get("custom_strategy") is None:
            _time_trigger_alone(nodes, side)
        return {}
    if trigger is not None:
        config = _config(trigger)
        return {
            "entry_conditions": _conditions(trigger, config["conditions"], timeframe),
            "entry_logic": config["logic"],
        }
    if price is not None:
        config = price.get("config") or {}
        operator = PRICE_OPERATORS.get(config.get("condition", "above"))
        if operator is None or config.get("level") is None:
            raise PlanError(
                f"Node {price['id']}: backtests replay price triggers above, below or "
                "crossing a level (not percentage moves).",
                field=f"{price['id']}.condition",
            )
        return {
            "entry_conditions": (
                Condition("close", operator, timeframe, value=float(config["level"])),
            )
        }
    raise PlanError(
        "A backtest replays entries from a Technical, Price, Time or News Trigger node; "
        "this pipeline has none.",
        field="graph.nodes",
    )


def _strategy(strategy: dict, nodes: dict) -> dict[str, Any]:
    """The Strategy node's stop and R-multiple targets (and its LLM engine's replay)."""
    config = _config(strategy)
    if config["target_method"] != "r_multiple":
        raise PlanError(
            f"Node {strategy['id']}: backtests replay R-multiple targets.",
            field=f"{strategy['id']}.target_method",
        )
    kwargs: dict[str, Any] = {}
    if config.get("engine") == "llm":
        kwargs.update(_llm_strategy(strategy, config, nodes))
    kwargs.update(
        stop_method=config["stop_method"],
        swing_lookback=int(config["swing_lookback"]),
        atr_multiplier=float(config["atr_multiplier"]),
        target_1_r=float(config["target_1_r"]),
        target_2_r=float(config["target_2_r"]),
    )
    return kwargs


def _risk(nodes: dict, *, levels_set: bool) -> dict[str, Any]:
    """The Risk Manager's sizing and minimum reward-to-risk (when something sets levels)."""
    risk = nodes.get("risk_manager_agent")
    if risk is None:
        return {}
    config = _config(risk)
    if config["sizing_method"] == "risk_based" and not levels_set:
        raise PlanError(
            f"Node {risk['id']}: risk-based sizing needs a stop loss, which a Strategy node "
            "sets; add one or size with equity_fraction or fixed_quantity.",
            field=f"{risk['id']}.sizing_method",
        )
    return {
        "min_risk_reward": float(config["min_risk_reward"]) if levels_set else None,
        "sizing": Sizing(
            method=config["sizing_method"],
            equity_fraction_pct=float(config["equity_fraction_pct"]),
            fixed_quantity=int(config["fixed_quantity"]),
            risk_per_trade_pct=float(config["risk_per_trade_pct"]),
            max_position_pct=float(config["max_position_pct"]),
        ),
    }


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


def _bias(nodes: dict[str, dict], custom: dict | None) -> dict[str, Any]:
    """The Bias node's part of the plan: it picks the side after the trigger, as live."""
    bias = nodes.get("bias_agent")
    if bias is None:
        return {}
    if custom is not None:
        raise PlanError(
            f"Node {bias['id']} (bias): backtests let the custom strategy pick the side; "
            "remove the bias node to backtest this pipeline.",
            field=bias["id"],
        )
    market = nodes.get("market_data_agent")
    indicators = tuple(_config(market)["indicators"]) if market is not None else ()
    return {"bias": _config(bias), "bias_node": bias["id"], "bias_indicators": indicators}


def _llm_strategy(node: dict, config: dict, nodes: dict[str, dict]) -> dict[str, Any]:
    """The Strategy node on the LLM engine: its crew plans trades the Bias node sides."""
    if nodes.get("bias_agent") is None:
        raise PlanError(
            f"Node {node['id']} uses the LLM engine, whose crew plans the side a Bias node "
            "picks; add a Bias node before it, or switch it to 'rules'.",
            field=f"{node['id']}.engine",
        )
    return {"strategy_llm": config, "strategy_node": node["id"]}


def _time_trigger_alone(nodes: dict[str, dict], side: str) -> None:
    """A Time or News Trigger with no condition trigger enters when it fires, on the plan's
    side, or on the side a Bias node picks."""
    if nodes.get("bias_agent") is not None:
        return
    if side == "both":
        raise PlanError(
            "Long and short reversals need entry and exit conditions; a time or news trigger "
            "alone enters on one side. Pick long or short.",
            field="side",
        )
