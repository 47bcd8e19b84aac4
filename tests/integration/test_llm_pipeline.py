"""The day-trading template on the LLM engine, run by the real engine against a fake server.

Its bias, strategy and reporting agents use their crews; the tests check what each step used and
cost, the ledger, the live events, the per-run budget and the replay cache.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from agents.state import PipelineState
from billing.models import CostEntry, CostType
from config.core.events import execution_group
from pipelines import engine, services
from pipelines.blueprints import DAY_TRADING
from pipelines.models import ExecutionStatus, PipelineExecution, StepStatus
from pipelines.tests.conftest import EventListener
from tests.fakes.openai import FakeOpenAI, Scripted, TradingDesk
from trading.clock import ManualClock

MODEL = "gpt-4o-mini"
PRICE_IN, PRICE_OUT = Decimal("0.15"), Decimal("0.6")  # USD per 1,000 tokens
LLM_NODES = {"node-3": "bias_agent", "node-4": "strategy_agent", "node-7": "reporting_agent"}
ROLES = {
    "node-3": {"Market analyst", "Sentiment analyst", "Bias synthesizer"},
    "node-4": {"Pattern analyst", "Entry analyst", "Risk analyst", "Target analyst"},
    "node-7": {"Report writer"},
}
# Tuesday 2026-11-24, 10:00 New York.
SESSION_TIME = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
def server(settings):
    with FakeOpenAI(responder=TradingDesk()) as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_API_KEY = fake.api_key
        settings.LLM_DEFAULT_MODEL = MODEL
        settings.LLM_PRICING = {MODEL: {"input": str(PRICE_IN), "output": str(PRICE_OUT)}}
        settings.LLM_RETRY_BACKOFF_SECONDS = 0
        yield fake


def llm_day_trading(owner, *, trading_mode="SIMULATION", **settings):
    """The day-trading template on one symbol, with its LLM-capable agents on the llm engine."""
    graph = copy.deepcopy(DAY_TRADING.graph)
    for node in graph["nodes"]:
        if node["id"] in LLM_NODES:
            node["config"]["engine"] = "llm"
    pipeline, _ = services.pipeline_create(
        owner=owner,
        name="LLM day trading",
        graph=graph,
        symbols=["AAPL"],
        primary_timeframe=DAY_TRADING.primary_timeframe,
        trading_mode=trading_mode,
        settings=settings,
    )
    return pipeline


def run(pipeline, task_id: str) -> PipelineExecution:
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    engine.execution_run(
        execution_id=execution.pk, task_id=task_id, clock=ManualClock(SESSION_TIME)
    )
    execution.refresh_from_db()
    return execution


def cost_of(prompt_tokens: int, completion_tokens: int) -> Decimal:
    return ((PRICE_IN * prompt_tokens + PRICE_OUT * completion_tokens) / 1000).quantize(
        Decimal("0.00000001"), rounding=ROUND_HALF_UP
    )


@pytest.mark.django_db(transaction=True)
def test_the_day_trading_template_runs_its_crews_and_bills_the_providers_usage(owner, server):
    pipeline = llm_day_trading(owner)
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    listener = EventListener(execution_group(execution.pk))
    try:
        engine.execution_run(
            execution_id=execution.pk, task_id="t1", clock=ManualClock(SESSION_TIME)
        )
        events = listener.drain()
    finally:
        listener.close()
    execution.refresh_from_db()

    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    served = server.completions
    assert len(served) == 8  # bias 3 + strategy 4 + reporting 1, within the 12-call target
    assert {c.model for c in served} == {MODEL}
    steps = {step.node_id: step for step in execution.steps.all()}
    for node_id, roles in ROLES.items():
        calls = [c for c in served if c.role in roles]
        step = steps[node_id]
        assert step.engine == "llm"
        assert step.status == StepStatus.COMPLETED
        assert step.tokens_in == sum(c.prompt_tokens for c in calls) > 0
        assert step.tokens_out == sum(c.completion_tokens for c in calls) > 0
        assert step.token_cost == sum(cost_of(c.prompt_tokens, c.completion_tokens) for c in calls)
    assert all(s.tokens_in == s.token_cost == 0 for n, s in steps.items() if n not in ROLES)

    # One ledger row per call, in the order the calls were made, with the provider's usage.
    rows = CostEntry.objects.filter(
        execution_id=execution.pk, cost_type=CostType.LLM_TOKENS
    ).order_by("pk")
    assert [(r.metadata["prompt_tokens"], r.metadata["completion_tokens"]) for r in rows] == [
        (c.prompt_tokens, c.completion_tokens) for c in served
    ]
    assert [r.total_cost for r in rows] == [
        cost_of(c.prompt_tokens, c.completion_tokens) for c in served
    ]
    assert {r.metadata["model"] for r in rows} == {MODEL}
    ledger = sum(e.total_cost for e in CostEntry.objects.filter(execution_id=execution.pk))
    charged = sum(step.agent_cost + step.token_cost for step in steps.values())
    assert ledger == execution.total_cost == charged

    # The live monitor hears each step's cost, tokens included.
    completed = {e["agent_id"]: e for e in events if e["event"] == "agent_completed"}
    for node_id in ROLES:
        step = steps[node_id]
        assert Decimal(str(completed[node_id]["cost_increment"])) == (
            step.agent_cost + step.token_cost
        )
        assert completed[node_id]["tokens"] == step.tokens_in + step.tokens_out

    state = PipelineState.model_validate(execution.full_state)
    assert state.bias_results["AAPL"].engine == "llm"
    signal = state.strategy_signals["AAPL"]
    assert signal.engine == "llm" and signal.risk_reward_ratio >= 1.5
    # The deterministic risk manager sized the crew's plan as it would a rules plan.
    risk = state.risk_approvals["AAPL"]
    assert risk.approved and risk.position_size > 0
    assert state.reports["_summary"]["engine"] == "llm"
    assert state.reports["_summary"]["summary"].startswith("The crew reviewed the run.")
    assert server.errors == []


@pytest.mark.django_db
def test_an_exhausted_budget_stops_the_run_before_the_next_call(owner, server):
    pipeline = llm_day_trading(owner, max_tokens_per_run=22_000)
    # The synthesizer's answer uses 21,000 prompt tokens: the strategy crew's first call, at
    # its prompt plus the 1,024 tokens its answer may use, would break the cap.
    synthesis = TradingDesk(bias="bullish").synthesizer("")
    server.answer_as("Bias synthesizer", Scripted(json.dumps(synthesis), 21_000, 50))

    execution = run(pipeline, "t1")

    assert execution.status == ExecutionStatus.FAILED
    assert "Per-run token budget" in execution.error
    assert "> max_tokens_per_run 22000" in execution.error
    assert len(server.completions) == 3
    steps = {step.node_id: step for step in execution.steps.all()}
    assert steps["node-3"].status == StepStatus.COMPLETED
    assert steps["node-3"].tokens_in == sum(c.prompt_tokens for c in server.completions)
    assert steps["node-4"].status == StepStatus.FAILED
    assert steps["node-4"].error == execution.error
    assert not {"node-5", "node-6", "node-7"} & set(steps)  # nothing downstream ran


@pytest.mark.django_db
def test_the_replay_cache_serves_a_second_run_with_zero_tokens(owner, server):
    pipeline = llm_day_trading(owner, trading_mode="VALIDATION")
    first = run(pipeline, "t1")

    second = run(pipeline, "t2")

    assert first.status == second.status == ExecutionStatus.COMPLETED
    assert len(server.completions) == 8  # the second run made no call
    for node_id in ROLES:
        step = second.steps.get(node_id=node_id)
        assert (step.tokens_in, step.tokens_out, step.token_cost) == (0, 0, 0)
    rows = CostEntry.objects.filter(execution_id=second.pk, cost_type=CostType.LLM_TOKENS)
    assert rows.count() == 8
    assert all(row.metadata["cached"] and row.total_cost == 0 for row in rows)
    # The same input gets the same answer.
    before = PipelineState.model_validate(first.full_state).strategy_signals["AAPL"]
    after = PipelineState.model_validate(second.full_state).strategy_signals["AAPL"]
    assert after.model_dump(exclude={"timestamp"}) == before.model_dump(exclude={"timestamp"})


@pytest.mark.django_db
def test_with_the_replay_cache_off_every_run_asks_again(owner, server):
    pipeline = llm_day_trading(owner, trading_mode="VALIDATION", replay_cache=False)
    run(pipeline, "t1")

    second = run(pipeline, "t2")

    assert len(server.completions) == 16
    assert second.steps.get(node_id="node-3").tokens_in > 0


@pytest.mark.django_db
def test_malformed_answers_fail_the_step_with_a_clear_message(owner, server):
    pipeline = llm_day_trading(owner)
    server.answer_as("Bias synthesizer", "I think it is bullish.", '{"bias": "bullish",}')

    execution = run(pipeline, "t1")

    assert execution.status == ExecutionStatus.FAILED
    assert execution.error == (
        "Bias crew for AAPL (bias synthesizer): the model's answer was invalid twice (the answer "
        "is not valid JSON (Expecting property name enclosed in double quotes at 19)); nothing "
        "was traded on it."
    )
    assert len(server.completions) == 4  # two analysts, the synthesizer and its one retry
    failed = execution.steps.get(status=StepStatus.FAILED)
    assert failed.node_id == "node-3"
    assert not execution.steps.filter(node_id="node-4").exists()


@pytest.mark.django_db
def test_without_a_model_server_the_rules_engine_runs_and_the_steps_say_so(owner, settings):
    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""
    pipeline = llm_day_trading(owner)

    execution = run(pipeline, "t1")

    assert execution.status == ExecutionStatus.COMPLETED
    summaries = dict(execution.steps.values_list("node_id", "output_summary"))
    # (The rules read AAPL as neutral here, so the strategy agent had nothing to plan.)
    for node_id in ("node-3", "node-7"):
        assert summaries[node_id].endswith("(rules engine used instead of the LLM)")
    state = PipelineState.model_validate(execution.full_state)
    by_agent = defaultdict(list)
    for warning in state.warnings:
        by_agent[warning.agent_id].append(warning.message)
    assert by_agent["node-3"][0] == (
        "Bias Agent: no language model is configured, so the rules engine was used instead."
    )
    assert CostEntry.objects.filter(cost_type=CostType.LLM_TOKENS).count() == 0
