"""A custom strategy in a backtest: the owner's approved version runs in the sandbox over the
history in chunks — one sandbox call per chunk of bars, never one per bar — and its answers
become arrays the engine reads (side, stop and targets per bar).

Each bar is evaluated as a live run would see it when flat (no position: a run opens a position
only when the pipeline holds none in the symbol), with the last `WINDOW` bars and the
indicators the strategy declares, computed once over the whole history. Levels come from
`agents.custom.agent.signal_levels`, the rule live runs use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.custom.agent import AGENT_TYPE, fill_params, signal_levels
from agents.custom.inputs import history_input_chunks
from agents.custom.sandbox import sandbox_evaluate_many
from agents.custom.selectors import active_strategy
from pipelines.backtest.plan import PlanError

WINDOW = 60  # bars each evaluation sees
CHUNK_BARS = 250  # evaluations per sandbox call (the limits apply to the whole call)


class StrategyFailed(RuntimeError):
    """The strategy failed in the sandbox; the message names it, its version and the bar."""


@dataclass
class StrategySignals:
    """Per bar: +1 BUY, -1 SELL, 0 HOLD, and the levels the answer sets (NaN on HOLD)."""

    side: np.ndarray
    stop: np.ndarray
    target_1: np.ndarray
    target_2: np.ndarray
    calls: int = 0  # sandbox calls made
    reasons: dict[int, str] = field(default_factory=dict)  # bar → the answer's `reason`


def custom_node(graph: dict) -> dict | None:
    return next((n for n in graph.get("nodes", []) if n["agent_type"] == AGENT_TYPE), None)


def strategy_for(*, owner_id, node: dict, timeframe: str):
    """The approved version the node names, of the pipeline's owner; PlanError when there is
    none or when it reads bars the dataset does not have."""
    config = node.get("config") or {}
    strategy = active_strategy(owner_id=owner_id, lineage=config.get("strategy"))
    if strategy is None:
        raise PlanError(
            f"Node {node['id']}: the custom strategy is not active (it may await review, be "
            "suspended, or belong to someone else).",
            field=f"{node['id']}.strategy",
        )
    timeframes = strategy.timeframes or ["5m"]
    if timeframes != [timeframe]:
        raise PlanError(
            f"Node {node['id']}: “{strategy.name}” reads {', '.join(timeframes)} bars; backtest "
            f"it on a dataset of {timeframes[0]} bars (this one has {timeframe}).",
            field="dataset_id",
        )
    return strategy


def strategy_signals(strategy, node: dict, history, *, chunk_bars: int = CHUNK_BARS):
    """Run the strategy over every bar of `history`, `chunk_bars` bars per sandbox call."""
    config = node.get("config") or {}
    params = fill_params(strategy.params, config.get("params") or {})
    default_stop_pct = float(config.get("default_stop_pct", 1.0))
    n = len(history)
    side = np.zeros(n, dtype=np.int8)
    levels = np.full((3, n), np.nan)
    reasons: dict[int, str] = {}
    calls = 0
    chunks = history_input_chunks(
        frame=history.frame(),
        timeframe=history.timeframe,
        indicators=strategy.indicators,
        params=params,
        window=WINDOW,
        start=1,
        size=chunk_bars,
    )
    for first_bar, inputs in chunks:
        result = sandbox_evaluate_many(strategy.code, inputs)
        calls += 1
        if not result.ok:
            raise StrategyFailed(
                f"Custom strategy “{strategy.name}” v{strategy.version} failed on the bars "
                f"from {first_bar}: {result.error}"
            )
        for offset, output in enumerate(result.outputs):
            bar = first_bar + offset
            found = signal_levels(
                output, float(history.close[bar]), default_stop_pct=default_stop_pct
            )
            if found is None:
                continue
            action, _, stop, target_1, target_2 = found
            side[bar] = 1 if action == "buy" else -1
            levels[:, bar] = (stop, target_1, target_2)
            if output.reason:
                reasons[bar] = output.reason
    return StrategySignals(side, levels[0], levels[1], levels[2], calls=calls, reasons=reasons)
