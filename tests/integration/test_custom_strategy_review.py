"""Generation from English and the three review layers, against the OpenAI fake."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from accounts.models import Notification
from agents.custom.services import (
    CustomStrategyError,
    strategy_create,
    strategy_submit,
)
from agents.models import CustomStrategy, CustomStrategyStatus
from agents.tests.custom_support import APPROVE, EMA_CROSS
from billing.models import CostEntry
from tests.fakes.openai import Scripted, prompt_of

pytestmark = pytest.mark.django_db


def test_it_generates_code_from_english_and_charges_the_owner(openai_fake, owner):
    openai_fake.answer(
        Scripted(json.dumps({"code": EMA_CROSS, "explanation": "EMA cross."}), 900, 400)
    )

    strategy = strategy_create(
        owner=owner, name="EMA cross", description="Buy when EMA 9 crosses EMA 21", generate=True
    )

    assert strategy.code == EMA_CROSS.strip("\n")
    assert strategy.generated is True
    assert strategy.status == CustomStrategyStatus.DRAFT
    sent = openai_fake.completions[0]
    assert "Buy when EMA 9 crosses EMA 21" in prompt_of(sent.request)
    assert "def strategy(bars, indicators, position, params)" in prompt_of(sent.request)
    charge = CostEntry.objects.get(owner=owner, agent_type="custom_strategy")
    # (900 x 0.15 + 400 x 0.6) / 1000 USD
    assert charge.total_cost == Decimal("0.375")
    assert charge.pipeline_id is None


def test_it_refuses_to_generate_beyond_the_owners_budget(openai_fake, owner):
    owner.budget_limit_daily = Decimal("0.0001")
    owner.save()

    with pytest.raises(CustomStrategyError) as refused:
        strategy_create(owner=owner, name="x", description="Buy dips", generate=True)

    assert "budget" in refused.value.message.lower()
    assert openai_fake.completions == []
    assert not CustomStrategy.objects.exists()


def test_it_passes_all_three_layers_into_the_queue(openai_fake, owner, reviewer):
    openai_fake.answer(APPROVE)
    strategy = strategy_create(owner=owner, name="EMA", description="EMA cross", code=EMA_CROSS)

    strategy = strategy_submit(strategy=strategy)

    assert strategy.status == CustomStrategyStatus.PENDING_REVIEW
    assert strategy.static_analysis_result["passed"] is True
    assert strategy.params == {"min_volume": 1000}
    assert strategy.indicators == ["EMA_9", "EMA_21", "ATR_14"]
    assert strategy.llm_security_review["approved"] is True
    assert strategy.llm_security_review["risk_level"] == "low"
    assert strategy.dry_run_result["passed"] is True
    assert len(strategy.dry_run_result["outputs"]) == 4
    assert {o["signal"] for o in strategy.dry_run_result["outputs"]} <= {"BUY", "SELL", "HOLD"}
    assert EMA_CROSS.strip() in prompt_of(openai_fake.completions[0].request)
    assert CostEntry.objects.filter(owner=owner, agent_id="custom_strategy.review").count() == 1
    assert Notification.objects.filter(owner=reviewer, kind="custom_strategy:pending").exists()


def test_a_static_failure_rejects_without_asking_the_model(openai_fake, owner):
    code = "import os\n\ndef strategy(bars, indicators, position, params):\n    return 'HOLD'\n"
    strategy = strategy_create(owner=owner, name="Bad", description="x", code=code)

    strategy = strategy_submit(strategy=strategy)

    assert strategy.status == CustomStrategyStatus.REJECTED
    assert strategy.static_analysis_result["passed"] is False
    assert any("Import" in reason for reason in strategy.rejection_reasons)
    assert openai_fake.completions == []
    assert strategy.dry_run_result is None
    notice = Notification.objects.get(owner=owner, kind="custom_strategy:rejected")
    assert "Import is not allowed" in notice.message


def test_the_models_verdict_rejects_with_its_issues(openai_fake, owner):
    openai_fake.answer(
        {
            "approved": False,
            "issues": ["Trades against its description"],
            "risk_level": "medium",
            "explanation": "Buys on a cross down.",
        }
    )
    strategy = strategy_create(owner=owner, name="EMA", description="EMA cross", code=EMA_CROSS)

    strategy = strategy_submit(strategy=strategy)

    assert strategy.status == CustomStrategyStatus.REJECTED
    assert strategy.llm_security_review["approved"] is False
    assert "Trades against its description" in strategy.rejection_reasons[0]
    assert strategy.dry_run_result is None
    assert Notification.objects.filter(owner=owner, kind="custom_strategy:rejected").exists()


def test_a_dry_run_failure_rejects_with_the_error(openai_fake, owner):
    openai_fake.answer(APPROVE)
    code = (
        "def strategy(bars, indicators, position, params):\n"
        "    return {'signal': 'BUY', 'stop_loss': bars['5m']['close'][-1] * -1}\n"
    )
    strategy = strategy_create(owner=owner, name="Neg", description="x", code=code)

    strategy = strategy_submit(strategy=strategy)

    assert strategy.status == CustomStrategyStatus.REJECTED
    assert strategy.dry_run_result["passed"] is False
    assert "stop_loss" in strategy.rejection_reasons[0]


def test_a_model_that_keeps_answering_nonsense_rejects_clearly(openai_fake, owner):
    openai_fake.answer("not json", "still not json")
    strategy = strategy_create(owner=owner, name="EMA", description="EMA cross", code=EMA_CROSS)

    strategy = strategy_submit(strategy=strategy)

    assert strategy.status == CustomStrategyStatus.REJECTED
    assert "security review could not be completed" in strategy.rejection_reasons[0]


def test_without_a_model_hand_written_code_still_reaches_the_queue(no_llm, owner):
    strategy = strategy_create(owner=owner, name="EMA", description="EMA cross", code=EMA_CROSS)

    strategy = strategy_submit(strategy=strategy)

    assert strategy.status == CustomStrategyStatus.PENDING_REVIEW
    assert strategy.llm_security_review["skipped"] is True


def test_without_a_model_generation_says_so(no_llm, owner):
    with pytest.raises(CustomStrategyError) as refused:
        strategy_create(owner=owner, name="x", description="Buy dips", generate=True)
    assert "No language model is configured" in refused.value.message
    assert refused.value.field == "code"


def test_only_a_draft_can_be_submitted(openai_fake, owner):
    openai_fake.answer(APPROVE)
    strategy = strategy_create(owner=owner, name="EMA", description="EMA cross", code=EMA_CROSS)
    strategy_submit(strategy=strategy)

    with pytest.raises(CustomStrategyError):
        strategy_submit(strategy=strategy)
    assert len(openai_fake.completions) == 1
