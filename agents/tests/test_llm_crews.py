"""The bias, strategy, news and reporting agents' LLM engines: CrewAI crews on a loopback server.

Their model calls reach a loopback OpenAI-compatible server through our client.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from agents.builtin.strategy import swing_points
from agents.errors import AgentError, BudgetExceeded, TriggerNotMet
from agents.llm.client import LLMAnswerRejected, LLMUnavailable
from agents.llm.crews import news_sentiment
from agents.metering import CostMeter
from agents.state import BiasType, TradeSide
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state
from agents.tests.providers import ScenarioNews, downtrend, headline, scenario_provider, uptrend
from tests.fakes.openai import FakeOpenAI, Scripted, TradingDesk
from trading.marketdata.news import score_headline_sentiment

pytestmark = pytest.mark.django_db

MODEL = "gpt-4o-mini"
TIMEFRAMES = frozenset({"5m", "1h", "4h", "1d"})
NEWS = [
    headline("UP", "Upco beats estimates and raises guidance", SESSION_NOW - timedelta(hours=1)),
    headline("UP", "Upco faces antitrust probe in Europe", SESSION_NOW - timedelta(hours=2)),
    headline("UP", "Upco to present at an industry conference", SESSION_NOW - timedelta(hours=3)),
]


@pytest.fixture
def server(settings):
    with FakeOpenAI(responder=TradingDesk()) as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_API_KEY = fake.api_key
        settings.LLM_DEFAULT_MODEL = MODEL
        settings.LLM_RETRY_BACKOFF_SECONDS = 0
        yield fake


def analysed(symbol="UP", shape=uptrend, *, meter=None, news=None):
    """A context on crafted trending bars and the state after the market data agent."""
    context = make_context(
        market_data=scenario_provider({symbol: shape()}, now=SESSION_NOW),
        news=ScenarioNews(news or []),
        required_timeframes=TIMEFRAMES,
    )
    if meter is not None:
        context.meter = meter
    state = build_agent("market_data_agent", node_id="data").process(make_state([symbol]), context)
    return state, context


def run(agent_type, config, state, context, node_id):
    agent = build_agent(agent_type, config, node_id=node_id)
    return agent.process(state, context), agent


def with_rules_bias(state, context):
    state, _ = run("bias_agent", {"confidence_threshold": 0}, state, context, "bias")
    return state


def test_the_bias_crew_reads_every_timeframe_and_answers_a_bias_signal(server):
    state, context = analysed(news=NEWS)

    state, agent = run("bias_agent", {"engine": "llm"}, state, context, "bias")

    assert [c.role for c in server.completions] == [
        "Market analyst",
        "Sentiment analyst",
        "Bias synthesizer",
    ]
    signal = state.bias_results["UP"]
    assert (signal.engine, signal.bias, signal.confidence, signal.bias_score) == (
        "llm",
        BiasType.BULLISH,
        75.0,
        0.75,
    )
    assert signal.reasoning == "Trend on the higher timeframes is bullish; news is quiet."
    assert signal.timeframe_breakdown["crew"]["market_analyst"]["direction"] == "bullish"
    assert set(signal.timeframe_breakdown) == {"1h", "4h", "1d", "crew"}
    market, sentiment, synthesizer = (c.messages[-1]["content"] for c in server.completions)
    # The computed indicators and the multi-timeframe context reach the prompt …
    for timeframe, weight in (("1h", "1.5"), ("4h", "2.0"), ("1d", "3.0")):
        assert f"{timeframe} (weight {weight}): close " in market
    frame = state.market_data["UP"].timeframes["1d"]
    assert f"rsi_14 {frame.indicators['rsi_14']:.2f}" in market
    assert "computed reading: bullish" in market
    score = score_headline_sentiment("Upco beats estimates and raises guidance ")
    assert f"[{score:+.2f}] Upco beats estimates and raises guidance" in sentiment
    # … the pydantic schema is asked for, and the synthesizer reads both analysts.
    assert "Format your final answer according to the following OpenAPI schema" in market
    assert '"bias_score"' in synthesizer
    assert '"direction":"bullish"' in synthesizer and '"sentiment":0.2' in synthesizer
    assert [call.agent_id for call in context.meter.calls] == ["bias"] * 3
    assert agent.summarize(state) == "UP: Bullish (75% confidence)"


def test_the_strategy_crew_plans_entry_stop_and_targets_with_a_reason_for_each(server):
    state, context = analysed()
    state = with_rules_bias(state, context)

    state, agent = run("strategy_agent", {"engine": "llm"}, state, context, "strategy")

    assert [c.role for c in server.completions] == [
        "Pattern analyst",
        "Entry analyst",
        "Risk analyst",
        "Target analyst",
    ]
    frame = state.market_data["UP"].timeframes["5m"]
    close, atr = frame.ohlcv["close"], frame.indicators["atr_14"]
    signal = state.strategy_signals["UP"]
    assert signal.engine == "llm" and signal.action == TradeSide.BUY
    assert signal.entry_price == round(close, 2)
    # The desk's stop: 1.5 x the ATR as the prompt shows it (to the cent).
    assert signal.stop_loss == round(signal.entry_price - 1.5 * round(atr, 2), 2)
    assert signal.target_1 > signal.entry_price > signal.stop_loss
    assert signal.target_2 > signal.target_1
    assert signal.risk_reward_ratio == 2.0
    assert set(signal.level_reasoning) >= {"entry", "stop_loss", "target_1", "target_2"}
    assert signal.level_reasoning["stop_loss"] == "1.5 ATR beyond the entry."
    pattern = server.completions[0].messages[-1]["content"]
    assert f"Last closed bar: close {close:.2f}; ATR(14) {atr:.2f}." in pattern
    swing = swing_points(frame.candles, highs=False)[-1]
    assert f"{swing:.2f}" in pattern.split("Swing lows (oldest first): ")[1].split("\n")[0]
    assert "must be at least 1.5" in server.completions[3].messages[-1]["content"]
    assert agent.summarize(state).startswith("UP: buy @ ")


def test_a_429_inside_a_crew_is_retried_and_the_crew_carries_on(server):
    state, context = analysed()
    server.fail_next(status=429, headers={"Retry-After": "0"})

    state, _ = run("bias_agent", {"engine": "llm"}, state, context, "bias")

    assert [r.status for r in server.requests_to("/chat/completions")] == [429, 200, 200, 200]
    assert state.bias_results["UP"].engine == "llm"
    assert len(context.meter.calls) == 3


def test_a_server_that_stays_down_fails_the_step_after_our_retries_only(server, settings):
    settings.LLM_MAX_RETRIES = 1
    state, context = analysed()
    server.fail_next(5, status=503)

    with pytest.raises(LLMUnavailable, match=r"\(HTTP 503: scripted 503, after 2 attempts\)"):
        run("bias_agent", {"engine": "llm"}, state, context, "bias")

    # CrewAI's own rate-limit retry does not multiply ours.
    assert len(server.requests_to("/chat/completions")) == 2


def test_a_plan_with_the_stop_on_the_wrong_side_is_asked_again_with_the_reason(server):
    state, context = analysed()
    state = with_rules_bias(state, context)
    close = state.market_data["UP"].timeframes["5m"].ohlcv["close"]
    bad = TradingDesk().targets(f'"action": "buy", "entry_price": {close}, "stop_loss": 1')
    server.answer_as("Target analyst", {**bad, "stop_loss": round(close + 2, 2)})

    state, _ = run("strategy_agent", {"engine": "llm"}, state, context, "strategy")

    assert len(server.completions) == 5
    assert server.completions[4].messages[-1]["content"] == (
        f"Your previous answer was rejected: stop_loss {close + 2:.2f} must be below the entry "
        f"{close:.2f} for a buy. Reply again with only one JSON object that follows the schema "
        "and fixes this."
    )
    assert state.strategy_signals["UP"].stop_loss < close


def test_a_plan_invalid_twice_fails_the_step_with_a_clear_message(server):
    state, context = analysed()
    state = with_rules_bias(state, context)
    server.answer_as("Target analyst", "no plan today", '{"action": "buy"')

    with pytest.raises(LLMAnswerRejected) as raised:
        run("strategy_agent", {"engine": "llm"}, state, context, "strategy")

    assert isinstance(raised.value, AgentError)
    assert str(raised.value) == (
        "Strategy crew for UP (target analyst): the model's answer was invalid twice (the "
        "answer is not a JSON object); nothing was traded on it."
    )
    assert len(server.completions) == 5


def test_with_fallback_to_rules_the_rules_plan_the_symbol_and_say_so(server):
    state, context = analysed()
    state = with_rules_bias(state, context)
    close = round(state.market_data["UP"].timeframes["5m"].ohlcv["close"], 2)
    plan = TradingDesk().targets(f'"action": "buy", "entry_price": {close}, "stop_loss": 1')
    below_minimum = {**plan, "stop_loss": close - 2, "target_1": close + 1}
    server.answer_as("Target analyst", below_minimum, below_minimum)
    config = {"engine": "llm", "fallback_to_rules": True}

    state, agent = run("strategy_agent", config, state, context, "strategy")

    assert state.strategy_signals["UP"].engine == "rules"
    assert state.warnings[-1].message.startswith(
        "Strategy Agent: Strategy crew for UP (target analyst): the model's answer was invalid "
        "twice (the reward to target_1 is 0.5R, below the 1.5R minimum"
    )
    assert state.warnings[-1].message.endswith("So the rules engine was used for UP instead.")
    assert agent.summarize(state).endswith("(rules engine used instead of the LLM)")


def test_hold_advice_drops_the_symbol_with_the_crews_reason(server):
    state, context = analysed()
    state = with_rules_bias(state, context)
    server.answer_as(
        "Target analyst",
        {"action": "hold", "conviction": 20, "reasoning": "Price is stretched above VWAP."},
    )

    state, _ = run("strategy_agent", {"engine": "llm"}, state, context, "strategy")

    assert state.strategy_signals == {} and state.symbols == []
    assert state.warnings[-1].message == (
        "UP: no trade — the strategy crew advises holding: Price is stretched above VWAP."
    )


def test_a_short_follows_a_bearish_bias(server):
    state, context = analysed("DOWN", downtrend)
    state = with_rules_bias(state, context)

    state, _ = run("strategy_agent", {"engine": "llm"}, state, context, "strategy")

    signal = state.strategy_signals["DOWN"]
    assert signal.action == TradeSide.SELL
    assert signal.target_2 < signal.target_1 < signal.entry_price < signal.stop_loss


def test_an_exhausted_budget_fails_closed_even_with_fallback(server):
    state, context = analysed(meter=CostMeter(max_tokens_per_run=6000))
    market_read = TradingDesk().market("")
    server.answer_as("Market analyst", Scripted(json.dumps(market_read), 5000, 40))
    config = {"engine": "llm", "fallback_to_rules": True}

    with pytest.raises(BudgetExceeded, match=r"5040 used .* > max_tokens_per_run 6000"):
        run("bias_agent", config, state, context, "bias")

    # The first call fitted; the second's projection did not, and it was never sent.
    assert len(server.completions) == 1
    assert "UP" not in state.bias_results


def test_without_a_model_the_rules_run_and_the_summary_says_so(settings):
    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""
    state, context = analysed()

    state, agent = run("bias_agent", {"engine": "llm"}, state, context, "bias")

    assert state.bias_results["UP"].engine == "rules"
    assert agent.summarize(state).endswith("(rules engine used instead of the LLM)")


def test_the_reporting_crew_writes_the_executive_summary(server):
    state, context = analysed()
    state = with_rules_bias(state, context)
    state, _ = run("strategy_agent", {}, state, context, "strategy")

    state, _ = run("reporting_agent", {"engine": "llm"}, state, context, "report")

    summary = state.reports["_summary"]
    assert summary["engine"] == "llm"
    assert summary["summary"] == "The crew reviewed the run. Outcome: no trade."
    assert summary["rules_summary"].startswith("UP: bullish bias")
    assert summary["key_points"] == ["Bias and plan came from the LLM crews."]
    prompt = server.completions[0].messages[-1]["content"]
    signal = state.strategy_signals["UP"]
    assert f"strategy: buy at {signal.entry_price:.2f}, stop {signal.stop_loss:.2f}" in prompt
    assert state.bias_results["UP"].reasoning in prompt


def test_the_news_trigger_scores_headlines_with_the_model_when_sentiment_decides(server):
    state = make_state(["UP"])
    context = make_context(news=ScenarioNews(NEWS))

    state, _ = run(
        "news_trigger", {"engine": "llm", "direction": "negative"}, state, context, "news"
    )

    assert [c.role for c in server.completions] == ["News sentiment analyst"]
    details = state.trigger.details
    assert details["sentiment_engine"] == "llm"
    assert [m["headline"] for m in details["symbols"]["UP"]["headlines"]] == [
        "Upco faces antitrust probe in Europe"
    ]
    assert details["symbols"]["UP"]["headlines"][0]["confidence"] == 0.9
    assert (
        "0. UP: Upco to present at an industry conference"
        in (server.completions[0].messages[-1]["content"])
    )


def test_the_news_trigger_asks_no_model_when_any_headline_will_do(server):
    context = make_context(news=ScenarioNews(NEWS[:1]))

    state, _ = run("news_trigger", {"engine": "llm"}, make_state(["UP"]), context, "news")

    assert server.completions == []
    assert state.trigger.details["sentiment_engine"] == "rules"
    assert state.warnings == []


def test_a_waiting_news_trigger_leaves_the_state_alone(server):
    state = make_state(["UP"])
    context = make_context(news=ScenarioNews(NEWS[2:]))
    agent = build_agent("news_trigger", {"engine": "llm", "direction": "positive"})

    with pytest.raises(TriggerNotMet):
        agent.process(state, context)

    assert len(server.completions) == 1
    assert state.warnings == [] and state.trigger is None


def test_news_sentiment_is_a_plain_function_for_the_signal_generator(server, settings):
    meter = CostMeter()

    scores = news_sentiment(
        ["Upco misses estimates", "Upco beats estimates", "Upco moves offices"], meter=meter
    )

    assert [(s.sentiment, s.confidence) for s in scores] == [(-0.8, 0.9), (0.8, 0.9), (0.0, 0.9)]
    assert [(call.agent_id, call.model) for call in meter.calls] == [("news_sentiment", MODEL)]
    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""
    assert news_sentiment(["Upco beats estimates"]) is None
