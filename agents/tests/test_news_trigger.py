"""News trigger: recent matching headlines keep a symbol; with none the run waits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.errors import TriggerNotMet
from agents.registry import validate_node_config
from agents.tests.factories import SESSION_NOW, build_agent, make_context, make_state
from agents.tests.providers import ScenarioNews, headline

HEADLINES = [
    headline("AAPL", "Apple beats estimates and raises guidance", SESSION_NOW - timedelta(hours=1)),
    headline("MSFT", "Microsoft faces antitrust probe in Europe", SESSION_NOW - timedelta(hours=2)),
    headline(
        "NVDA", "Nvidia said to plan a new data-center chip", SESSION_NOW - timedelta(hours=3)
    ),
    headline("TSLA", "Tesla beats delivery estimates", SESSION_NOW - timedelta(hours=9)),
]


def trigger(config, symbols=("AAPL", "MSFT", "NVDA", "TSLA"), llm=None):
    state = make_state(list(symbols))
    context = make_context(news=ScenarioNews(HEADLINES), llm=llm)
    return build_agent("news_trigger", config).process(state, context)


def test_any_recent_headline_counts_by_default():
    state = trigger({})

    # TSLA's headline is 9 hours old, outside the default 240-minute lookback.
    assert state.symbols == ["AAPL", "MSFT", "NVDA"]
    assert state.trigger.details["kept"] == ["AAPL", "MSFT", "NVDA"]
    assert state.trigger.details["dropped"] == ["TSLA"]


def test_it_keeps_positive_news_only_when_asked():
    state = trigger({"direction": "positive", "min_sentiment": 0.3})

    assert state.symbols == ["AAPL"]
    match = state.trigger.details["symbols"]["AAPL"]["headlines"][0]
    assert match["headline"] == "Apple beats estimates and raises guidance"
    assert match["sentiment"] > 0.3
    assert match["published_at"] == (SESSION_NOW - timedelta(hours=1)).isoformat()


def test_it_keeps_negative_news_only_when_asked():
    state = trigger({"direction": "negative"})

    assert state.symbols == ["MSFT"]


def test_keywords_match_whole_words_without_case():
    any_state = trigger({"keywords": ["PROBE", "chip"]})
    all_state = trigger({"keywords": ["beats", "guidance"], "keyword_match": "all"})
    # "AI" must not match the "ai" inside "said".
    with pytest.raises(TriggerNotMet):
        trigger({"keywords": ["AI"]})

    assert any_state.symbols == ["MSFT", "NVDA"]
    assert any_state.trigger.details["symbols"]["MSFT"]["headlines"][0]["matched_keywords"] == [
        "PROBE"
    ]
    assert all_state.symbols == ["AAPL"]


def test_it_waits_for_the_check_interval_and_leaves_the_state_alone():
    state = make_state(["AAPL"])
    context = make_context(news=ScenarioNews(HEADLINES))
    agent = build_agent("news_trigger", {"keywords": ["merger"], "engine": "llm"})

    with pytest.raises(TriggerNotMet) as raised:
        agent.process(state, context)

    assert raised.value.next_check_at == SESSION_NOW + timedelta(seconds=300)
    assert raised.value.details["symbols"]["AAPL"] == {"met": False, "matching": 0, "headlines": []}
    assert state.warnings == []
    assert state.symbols == ["AAPL"]


def test_the_llm_engine_falls_back_to_rules_with_a_warning():
    state = trigger({"engine": "llm"}, symbols=["AAPL"])

    assert state.symbols == ["AAPL"]
    assert [w.message for w in state.warnings] == [
        "News Trigger: no language model is configured, so the rules engine was used instead."
    ]


def test_its_summary_counts_the_matches():
    agent = build_agent("news_trigger", {"min_headlines": 1})
    state = agent.process(make_state(["AAPL", "TSLA"]), make_context(news=ScenarioNews(HEADLINES)))

    assert agent.summarize(state) == "Met for AAPL (1): 1+ any headline in the last 240 min"


def test_its_schema_fills_defaults():
    config, errors = validate_node_config("news_trigger", {})

    assert errors == []
    assert config == {
        "lookback_minutes": 240,
        "keywords": [],
        "keyword_match": "any",
        "direction": "either",
        "min_sentiment": 0.0,
        "min_headlines": 1,
        "check_interval_seconds": 300,
        "engine": "rules",
        "fallback_to_rules": False,
        "model": "",
    }
