"""Guardrails on model answers: JSON parsing and the checks that make a plan tradeable."""

from __future__ import annotations

import pytest

from agents.llm.answers import BiasAnswer, EntryAnswer, HeadlineScores, StopAnswer, StrategyAnswer
from agents.llm.validation import (
    InvalidAnswer,
    check_entry,
    check_headline_scores,
    check_plan,
    check_stop,
    parse_answer,
    plan_levels,
)

PLAN = {
    "action": "buy",
    "conviction": 70,
    "entry_price": 150.5,
    "stop_loss": 148.0,
    "target_1": 154.25,
    "target_2": 158.0,
    "risk_reward_ratio": 9.9,
    "reasoning": "Golden cross with the daily trend.",
    "entry_reasoning": "The last close.",
    "stop_loss_reasoning": "Below the swing low at 148.",
    "target_1_reasoning": "1.5R at the prior high.",
    "target_2_reasoning": "3R.",
    "technical_factors": ["golden cross"],
}


def plan(**changes) -> StrategyAnswer:
    return StrategyAnswer(**{**PLAN, **changes})


def checked(answer: StrategyAnswer, side="buy", close=150.4, atr=1.2, minimum=1.5) -> None:
    check_plan(answer, side=side, close=close, atr=atr, risk_reward_min=minimum)


def test_it_reads_json_inside_code_fences_and_chatter():
    text = 'Here you go:\n```json\n{"bias": "bearish", "confidence": 61, "bias_score": 0.6, '
    text += '"reasoning": "Lower highs.", "factors": []}\n```'

    assert parse_answer(text, BiasAnswer).bias == "bearish"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("bullish", "the answer is not a JSON object"),
        ('{"bias": "bullish"', "the answer is not a JSON object"),
        ("{'bias': 'bullish'}", "the answer is not valid JSON"),
        ('{"bias": "up", "confidence": 1, "bias_score": 1, "reasoning": "x", "factors": []}',
         "bias: Input should be 'bullish', 'bearish' or 'neutral'"),
        ('{"bias": "bullish", "confidence": Infinity, "bias_score": 1, "reasoning": "x", '
         '"factors": []}', "Infinity is not a number"),
        ('{"bias": "bullish", "confidence": 50}', "bias_score: Field required"),
    ],
)  # fmt: skip
def test_it_rejects_what_is_not_a_complete_finite_answer(text, reason):
    with pytest.raises(InvalidAnswer, match=reason.replace("(", r"\(")):
        parse_answer(text, BiasAnswer)


def test_the_reward_is_recomputed_from_the_levels_rounded_to_cents():
    levels = plan_levels(plan(entry_price=150.504, target_1=154.254))

    assert (levels.entry, levels.stop_loss, levels.target_1) == (150.5, 148.0, 154.25)
    assert levels.risk_reward == 1.5  # not the 9.9 the model claimed


def test_a_sound_plan_and_a_hold_pass():
    checked(plan())
    checked(StrategyAnswer(action="hold", conviction=10, reasoning="No setup."))


@pytest.mark.parametrize(
    ("changes", "side", "reason"),
    [
        ({"action": "sell"}, "buy", "the action is sell, but the bias calls for a buy or hold"),
        ({"stop_loss": 151.0}, "buy", "stop_loss 151.00 must be below the entry 150.50"),
        ({"target_1": 149.0}, "buy", "target_1 149.00 must be above the entry 150.50"),
        ({"target_2": 154.0}, "buy", "target_2 154.00 must be beyond target_1 154.25"),
        ({"target_1": 153.0}, "buy", "the reward to target_1 is 1R, below the 1.5R minimum"),
        ({"entry_price": 160.0, "stop_loss": 158, "target_1": 164, "target_2": 168}, "buy",
         "entry_price 160.00 is more than 2 ATR (1.20) from the last close 150.40"),
        ({"stop_loss": None}, "buy", "stop_loss must be a positive number"),
        ({"target_1_reasoning": " "}, "buy", "give the reasoning for each level"),
    ],
)  # fmt: skip
def test_a_plan_that_breaks_a_guardrail_is_invalid(changes, side, reason):
    with pytest.raises(InvalidAnswer, match=reason.replace("(", r"\(").replace(")", r"\)")):
        checked(plan(**changes), side=side)


def test_a_short_needs_its_stop_above_and_its_targets_below():
    short = plan(action="sell", stop_loss=153.0, target_1=146.75, target_2=143.0)
    checked(short, side="sell")

    with pytest.raises(InvalidAnswer, match=r"stop_loss 148\.00 must be above the entry"):
        checked(plan(action="sell", target_1=146.75, target_2=143.0), side="sell")


def test_entry_and_stop_answers_are_checked_on_their_own():
    entry = EntryAnswer(action="buy", entry_price=150.5, reasoning="close")
    check_entry(entry, side="buy", close=150.4, atr=None)
    check_stop(StopAnswer(stop_loss=149.0, reasoning="swing"), entry=entry)

    with pytest.raises(InvalidAnswer, match=r"more than 2% of the price"):
        check_entry(
            entry.model_copy(update={"entry_price": 160.0}), side="buy", close=150.4, atr=None
        )
    with pytest.raises(InvalidAnswer, match=r"must be below the entry 150\.50 for a buy"):
        check_stop(StopAnswer(stop_loss=151.0, reasoning="swing"), entry=entry)


def test_headline_scores_need_one_score_per_headline():
    scores = HeadlineScores(scores=[{"index": 1, "sentiment": 0.5, "confidence": 1}])

    with pytest.raises(InvalidAnswer, match=r"index 0 to 1 \(got \[1\]\)"):
        check_headline_scores(scores, count=2)
