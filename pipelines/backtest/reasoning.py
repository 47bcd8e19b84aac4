"""Why a backtest entered a trade, in a few sentences: the trigger that fired, the Bias node's
reading and where the Strategy put the stop and targets — in the agents' own words when they
gave them (the bias's reasoning, the strategy crew's, a custom strategy's `reason`). It is what a
live trade's run report says, kept on each backtest trade.

Written once per trade at its entry from what the replay already holds; nothing is recomputed.
"""

from __future__ import annotations

import math

MAX_PART = 320  # characters of one agent's words; the whole stays a few sentences


def _clip(text: str) -> str:
    """One agent's words on one line, at most MAX_PART characters, ending as a sentence."""
    text = " ".join(text.split())
    if len(text) > MAX_PART:
        return text[: MAX_PART - 1].rstrip() + "…"
    return text if not text or text[-1] in ".!?…" else text + "."


def trigger_text(plan) -> str:
    """What fires an entry under `plan` (the same for every trade of a backtest)."""
    if plan.entry_conditions:
        joiner = f" {plan.entry_logic} "
        gate = "Trigger: " + joiner.join(c.describe() for c in plan.entry_conditions)
    elif plan.time_trigger is not None:
        gate = "Time trigger fired"
    elif plan.news_trigger is not None:
        gate = "News trigger fired"
    else:
        gate = "Entry"
    return _clip(gate)


def _rules_levels(plan, atr, bar: int, side: str, levels) -> str:
    """The rules strategy's stop and R-multiple targets, worded like the live agent's."""
    stop, target_1, target_2 = levels
    beyond = "below" if side == "long" else "above"
    if plan.stop_method == "atr" and atr is not None and math.isfinite(atr[bar]):
        where = f"Stop {plan.atr_multiplier:g} x ATR(14) ({atr[bar]:.2f}) {beyond} the entry"
    else:
        swing = "low" if side == "long" else "high"
        where = f"Stop at the {plan.swing_lookback}-bar swing {swing}"
    return (
        f"{where}: {stop:.2f}; targets {plan.target_1_r:g}R {target_1:.2f} and "
        f"{plan.target_2_r:g}R {target_2:.2f}."
    )


def entry_reasoning(replay, signal_bar: int, side: str, levels) -> str:
    """The reasoning of the trade `replay` opens on `side` at `signal_bar` with `levels`
    ((stop, target 1, target 2), or None with no bracket)."""
    parts = [replay.trigger_text]
    bias = replay.bias
    if bias is not None:
        signal = bias.signals.get(signal_bar)
        if signal is not None:
            parts.append(f"Bias ({signal.engine}): {_clip(signal.reasoning)}")
    crew = bias.strategy if bias is not None else None
    crew_plan = crew.plans.get(signal_bar) if crew is not None else None
    if crew_plan is not None:
        parts.append(f"Strategy (llm): {_clip(crew_plan.reasoning)}")
    elif replay.strategy is not None:
        reason = replay.strategy.reasons.get(signal_bar, "")
        action = "BUY" if side == "long" else "SELL"
        parts.append(f"Custom strategy {action}" + (f": {_clip(reason)}" if reason else "."))
    if levels is None:
        return " ".join(parts)
    if crew_plan is None and replay.strategy is None:
        parts.append(_rules_levels(replay.plan, replay.moments.atr, signal_bar, side, levels))
    else:
        stop, target_1, target_2 = levels
        parts.append(f"Stop {stop:.2f}; targets {target_1:.2f} and {target_2:.2f}.")
    return " ".join(parts)
