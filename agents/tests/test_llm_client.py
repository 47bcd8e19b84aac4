"""The LLM client on a loopback OpenAI server: metering, retries, guardrails, budget, replay."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from agents.errors import BudgetExceeded
from agents.llm.answers import BiasAnswer
from agents.llm.client import (
    LLMAnswerRejected,
    LLMClient,
    LLMUnavailable,
    llm_client_for,
    llm_status,
)
from agents.llm.config import llm_settings
from agents.llm.validation import InvalidAnswer
from agents.metering import CostMeter, LLMCall
from agents.models import LLMReplay
from agents.tests.factories import make_context
from tests.fakes.openai import FakeOpenAI, Scripted

pytestmark = pytest.mark.django_db

MODEL = "gpt-4o-mini"
# Prices per 1,000 tokens, large enough that every token shows in the cost.
PRICING = {MODEL: {"input": "0.15", "output": "0.6"}}
BIAS = {
    "bias": "bullish",
    "confidence": 72,
    "bias_score": 0.7,
    "reasoning": "The daily trend is up.",
    "factors": ["1d trend"],
}
QUESTION = [
    {"role": "system", "content": "You are Bias synthesizer."},
    {"role": "user", "content": "Decide the bias of AAPL. Answer with one JSON object."},
]


@pytest.fixture
def server(settings):
    with FakeOpenAI() as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_API_KEY = fake.api_key
        settings.LLM_DEFAULT_MODEL = MODEL
        settings.LLM_PRICING = PRICING
        settings.LLM_RETRY_BACKOFF_SECONDS = 0.5
        settings.LLM_MAX_RETRIES = 2
        yield fake


def client_for(owner, *, meter: CostMeter | None = None, replay: bool = True, waits=None):
    return LLMClient(
        config=llm_settings(),
        meter=meter or CostMeter(),
        agent_id="bias",
        owner_id=str(owner.pk),
        replay=replay,
        sleep=waits.append if waits is not None else lambda seconds: None,
    )


def ask(client: LLMClient, check=None) -> BiasAnswer:
    return client.ask(
        QUESTION, answer_model=BiasAnswer, model=MODEL, what="Bias crew for AAPL", check=check
    )


def test_it_meters_the_call_from_the_providers_usage(server, owner):
    server.answer(Scripted(json.dumps(BIAS), prompt_tokens=1234, completion_tokens=56))
    meter = CostMeter()

    answer = ask(client_for(owner, meter=meter))

    assert answer == BiasAnswer(**BIAS)
    # (1234 x 0.15 + 56 x 0.6) / 1000 USD
    assert meter.calls == [LLMCall("bias", MODEL, 1234, 56, Decimal("0.21870000"))]
    assert meter.run_tokens == 1290
    sent = server.requests_to("/v1/chat/completions")[0]
    assert sent.headers["authorization"] == "Bearer test-key"
    assert sent.json["model"] == MODEL
    assert sent.json["response_format"] == {"type": "json_object"}
    assert sent.json["messages"] == QUESTION


def test_a_429_is_retried_after_the_servers_wait(server, owner):
    server.fail_next(status=429, headers={"Retry-After": "0"})
    server.answer(BIAS)
    meter, waits = CostMeter(), []

    ask(client_for(owner, meter=meter, waits=waits))

    assert [r.status for r in server.requests_to("/v1/chat/completions")] == [429, 200]
    assert waits == [0.0]
    assert len(meter.calls) == 1


def test_5xx_backs_off_then_fails_clearly_after_the_retries(server, owner):
    server.fail_next(3, status=503)
    meter, waits = CostMeter(), []

    with pytest.raises(LLMUnavailable) as raised:
        ask(client_for(owner, meter=meter, waits=waits))

    assert len(server.requests_to("/v1/chat/completions")) == 3
    assert waits == [0.5, 1.0]
    assert "did not answer for gpt-4o-mini (HTTP 503" in str(raised.value)
    assert "after 3 attempts" in str(raised.value)
    assert meter.calls == []
    # Nothing in the error chain looks like a rate limit, so CrewAI does not retry it again.
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_a_refused_request_is_not_retried(server, owner, settings):
    settings.OPENAI_API_KEY = "wrong-key"

    with pytest.raises(LLMUnavailable, match="HTTP 401: Incorrect API key provided"):
        ask(client_for(owner))

    assert len(server.requests_to("/v1/chat/completions")) == 1


def test_malformed_json_is_asked_again_with_the_error(server, owner):
    server.answer(Scripted("Sure! The bias is {bullish", 40, 8), Scripted(json.dumps(BIAS), 60, 30))
    meter = CostMeter()

    answer = ask(client_for(owner, meter=meter))

    assert answer.bias == "bullish"
    retry = server.completions[1].messages
    assert retry[:2] == QUESTION
    assert retry[2] == {"role": "assistant", "content": "Sure! The bias is {bullish"}
    assert retry[3]["content"].startswith(
        "Your previous answer was rejected: the answer is not a JSON object"
    )
    # Both calls were paid for.
    assert [(c.prompt_tokens, c.completion_tokens) for c in meter.calls] == [(40, 8), (60, 30)]


def test_an_answer_invalid_twice_is_rejected_with_the_reason(server, owner):
    server.answer({**BIAS, "confidence": 140}, {**BIAS, "confidence": float("nan")})

    with pytest.raises(LLMAnswerRejected) as raised:
        ask(client_for(owner))

    assert str(raised.value) == (
        "Bias crew for AAPL: the model's answer was invalid twice (NaN is not a number; use "
        "finite numbers only); nothing was traded on it."
    )
    assert (
        "confidence: Input should be less than or equal to 100"
        in (server.completions[1].messages[-1]["content"])
    )
    assert not LLMReplay.objects.exists()  # a failed exchange is not cached


def test_a_domain_check_failure_is_retried_like_a_schema_error(server, owner):
    server.answer({**BIAS, "bias": "neutral"}, BIAS)

    def must_not_be_neutral(answer: BiasAnswer) -> None:
        if answer.bias == "neutral":
            raise InvalidAnswer("a neutral bias needs a reason")

    assert ask(client_for(owner), check=must_not_be_neutral).bias == "bullish"
    assert "a neutral bias needs a reason" in server.completions[1].messages[-1]["content"]


def test_the_budget_refuses_a_call_before_it_is_made(server, owner):
    meter = CostMeter(max_tokens_per_run=500)  # less than the answer's 1,024-token allowance

    with pytest.raises(BudgetExceeded, match="max_tokens_per_run 500"):
        ask(client_for(owner, meter=meter))

    assert server.requests == []
    assert meter.calls == []


def test_the_cost_budget_counts_what_the_run_spent(server, owner):
    server.answer(Scripted(json.dumps(BIAS), 2000, 100))
    # One answer costs $0.36; the next call's projection (prompt + 1,024 tokens) needs ~$0.62.
    meter = CostMeter(max_cost_per_run=Decimal("0.9"))
    client = client_for(owner, meter=meter, replay=False)
    ask(client)

    with pytest.raises(BudgetExceeded, match=r"\$0.3600 used"):
        ask(client)

    assert len(server.completions) == 1


def test_the_replay_cache_answers_the_same_prompt_for_free(server, owner):
    server.answer(Scripted(json.dumps(BIAS), 900, 45))
    first, second = CostMeter(), CostMeter(max_tokens_per_run=1)

    assert ask(client_for(owner, meter=first)) == ask(client_for(owner, meter=second))

    assert len(server.completions) == 1
    assert second.calls == [LLMCall("bias", MODEL, 0, 0, Decimal(0), cached=True)]
    assert second.run_tokens == 0
    replay = LLMReplay.objects.get()
    assert (replay.owner, replay.model, replay.hits) == (owner, MODEL, 1)
    assert (replay.prompt_tokens, replay.completion_tokens) == (900, 45)
    assert replay.cost == Decimal("0.16200000")


def test_a_replayed_exchange_repeats_the_retry_for_free(server, owner):
    server.answer("not json", BIAS)
    ask(client_for(owner))
    meter = CostMeter()

    ask(client_for(owner, meter=meter))

    assert len(server.completions) == 2
    assert [call.cached for call in meter.calls] == [True, True]


def test_replays_belong_to_their_owner_and_can_be_switched_off(server, owner, outsider):
    server.answer(BIAS, BIAS, BIAS)
    ask(client_for(owner))

    ask(client_for(outsider))
    ask(client_for(owner, replay=False))

    assert len(server.completions) == 3


def test_without_a_model_server_there_is_no_client_and_the_status_says_so(settings):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""

    assert llm_client_for(make_context(), agent_id="bias") is None
    assert llm_status().configured is False
    assert llm_status().summary.startswith("No language model is configured")


def test_a_context_gets_a_client_bound_to_its_run(server):
    context = make_context()

    client = llm_client_for(context, agent_id="strategy")

    assert client.meter is context.meter
    assert (client.agent_id, client.owner_id, client.replay) == ("strategy", "7", True)
    assert llm_status().summary == f"Language model: {MODEL} at {server.url[7:]}."
