"""Guardrails on model answers: parse the JSON, then check the numbers make a tradeable plan.

A rejected answer raises InvalidAnswer with a sentence the model is shown on its one retry
(and the trader sees if the retry fails too).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from agents.builtin.common import ratio, round_price, to_cents
from agents.llm.answers import EntryAnswer, HeadlineScores, StopAnswer, StrategyAnswer

# An entry further than this from the last close (in ATRs, or in % of the price without an ATR)
# is not a reading of this chart but a hallucinated number: the risk manager would size the
# position on a risk the market is nowhere near.
MAX_ENTRY_DISTANCE_ATR = 2.0
MAX_ENTRY_DISTANCE_PCT = 2.0
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


class InvalidAnswer(Exception):
    """The model's answer cannot be used; the message says why, in one sentence."""


def _reject_constant(name: str) -> float:
    raise InvalidAnswer(f"{name} is not a number; use finite numbers only")


def _field_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "answer"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_answer[T: BaseModel](text: str, answer_model: type[T]) -> T:
    """The answer as `answer_model`, from the model's text (code fences and chatter around the
    JSON object are tolerated; NaN, infinity and missing fields are not)."""
    stripped = _FENCE.sub("", (text or "").strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if start < 0 or end <= start:
        raise InvalidAnswer("the answer is not a JSON object")
    try:
        data: Any = json.loads(stripped[start : end + 1], parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise InvalidAnswer(f"the answer is not valid JSON ({error.msg} at {error.pos})") from None
    try:
        return answer_model.model_validate(data)
    except ValidationError as error:
        problems = _field_errors(error)
        raise InvalidAnswer(f"the JSON does not match the schema ({problems})") from None


def _side_word(side: str) -> str:
    return "buy" if side == "buy" else "sell"


def _check_side(action: str, side: str) -> None:
    if action not in {side, "hold"}:
        raise InvalidAnswer(
            f"the action is {action}, but the bias calls for a {_side_word(side)} or hold; "
            "never trade against the bias"
        )


def _check_finite(**values: float | None) -> None:
    for name, value in values.items():
        if value is None or not math.isfinite(value) or value <= 0:
            raise InvalidAnswer(f"{name} must be a positive number (got {value!r})")


def check_entry(answer: EntryAnswer, *, side: str, close: float, atr: float | None) -> None:
    """The entry is on the bias's side and near the last close."""
    _check_side(answer.action, side)
    if answer.action == "hold":
        return
    _check_finite(entry_price=answer.entry_price)
    if atr and atr > 0:
        limit, unit = MAX_ENTRY_DISTANCE_ATR * atr, f"{MAX_ENTRY_DISTANCE_ATR:g} ATR ({atr:.2f})"
    else:
        limit = close * MAX_ENTRY_DISTANCE_PCT / 100
        unit = f"{MAX_ENTRY_DISTANCE_PCT:g}% of the price"
    if abs(answer.entry_price - close) > limit:
        raise InvalidAnswer(
            f"entry_price {answer.entry_price:.2f} is more than {unit} from the last close "
            f"{close:.2f}"
        )


def check_stop(answer: StopAnswer, *, entry: EntryAnswer | None) -> None:
    """The stop loss is on the losing side of the entry."""
    _check_finite(stop_loss=answer.stop_loss)
    if entry is None or entry.action == "hold" or entry.entry_price is None:
        return
    if entry.action == "buy" and not answer.stop_loss < entry.entry_price:
        raise InvalidAnswer(
            f"stop_loss {answer.stop_loss:.2f} must be below the entry {entry.entry_price:.2f} "
            "for a buy"
        )
    if entry.action == "sell" and not answer.stop_loss > entry.entry_price:
        raise InvalidAnswer(
            f"stop_loss {answer.stop_loss:.2f} must be above the entry {entry.entry_price:.2f} "
            "for a sell"
        )


@dataclass(frozen=True)
class PlanLevels:
    """A plan's levels rounded to cents, as they are traded, and the reward to target 1 in R."""

    entry: float
    stop_loss: float
    target_1: float
    target_2: float
    risk_reward: float


def plan_levels(answer: StrategyAnswer) -> PlanLevels:
    entry, stop_loss = round_price(answer.entry_price), round_price(answer.stop_loss)
    target_1, target_2 = round_price(answer.target_1), round_price(answer.target_2)
    risk = abs(entry - stop_loss)
    # The model's own risk_reward_ratio is not trusted: it is recomputed from the levels, with
    # the same rounding the rules engine and the risk manager use.
    risk_reward = float(ratio(to_cents(abs(target_1 - entry)), to_cents(risk))) if risk > 0 else 0.0
    return PlanLevels(entry, stop_loss, target_1, target_2, risk_reward)


def check_plan(
    answer: StrategyAnswer, *, side: str, close: float, atr: float | None, risk_reward_min: float
) -> None:
    """A complete plan: levels on the right sides of the entry and enough reward for the risk."""
    _check_side(answer.action, side)
    if answer.action == "hold":
        return
    _check_finite(
        entry_price=answer.entry_price,
        stop_loss=answer.stop_loss,
        target_1=answer.target_1,
        target_2=answer.target_2,
    )
    missing = [
        name
        for name in ("entry_reasoning", "stop_loss_reasoning", "target_1_reasoning")
        if not getattr(answer, name).strip()
    ]
    if missing:
        raise InvalidAnswer(f"give the reasoning for each level ({', '.join(missing)} is empty)")
    check_entry(
        EntryAnswer(action=answer.action, entry_price=answer.entry_price, reasoning="-"),
        side=side,
        close=close,
        atr=atr,
    )
    levels = plan_levels(answer)
    sign = 1 if answer.action == "buy" else -1
    below_above = "below" if sign > 0 else "above"
    above_below = "above" if sign > 0 else "below"
    if (levels.entry - levels.stop_loss) * sign <= 0:
        raise InvalidAnswer(
            f"stop_loss {levels.stop_loss:.2f} must be {below_above} the entry "
            f"{levels.entry:.2f} for a {answer.action}"
        )
    if (levels.target_1 - levels.entry) * sign <= 0:
        raise InvalidAnswer(
            f"target_1 {levels.target_1:.2f} must be {above_below} the entry {levels.entry:.2f} "
            f"for a {answer.action}"
        )
    if (levels.target_2 - levels.target_1) * sign <= 0:
        raise InvalidAnswer(
            f"target_2 {levels.target_2:.2f} must be beyond target_1 {levels.target_1:.2f}"
        )
    if levels.risk_reward < risk_reward_min:
        raise InvalidAnswer(
            f"the reward to target_1 is {levels.risk_reward:g}R, below the {risk_reward_min:g}R "
            "minimum; move target_1 or the stop, or answer hold"
        )


def check_headline_scores(answer: HeadlineScores, *, count: int) -> None:
    """One score for each headline, by its index."""
    indexes = sorted(score.index for score in answer.scores)
    if indexes != list(range(count)):
        raise InvalidAnswer(
            f"give exactly one score for each headline index 0 to {count - 1} (got {indexes})"
        )
