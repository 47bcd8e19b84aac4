"""LLM engines in a backtest run only against the replay cache or within the trader's budget:
the cost is estimated before the start, the cap is hard, and the rules engine is the free
alternative. The News Trigger's news crew scores the headlines, against the loopback OpenAI
fake (gpt-4o-mini at $0.15 / $0.60 per 1K tokens in and out)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pipelines.backtest.services import backtest_run
from pipelines.models import Backtest, BacktestStatus, BacktestTrade, Pipeline
from pipelines.tests.test_backtest_custom import csv_of
from pipelines.tests.test_backtest_sessions import minutes, session_news
from trading.marketdata.datasets import dataset_create_from_csv
from trading.marketdata.registry import news_provider

pytestmark = pytest.mark.django_db(transaction=True)

# A news-trigger call's typical tokens (billing.estimator): 1,200 in and 200 out, so one call
# is estimated at 1.2 × $0.15 + 0.2 × $0.60 = $0.30.
ONE_CALL = Decimal("0.3000")
ALWAYS = {"indicator": "close", "operator": ">", "value": 0}  # exits each trade a bar later


def news_of(symbol: str, history) -> list[int]:
    """Publication times of the headlines the bars' 30-minute look-backs reach."""
    since = datetime.fromtimestamp(int(history.open_seconds[0]) + 60 - 1800, UTC)
    until = datetime.fromtimestamp(int(history.open_seconds[-1]) + 61, UTC)
    return [
        int(h.published_at.timestamp())
        for h in news_provider().headlines([symbol], since=since, until=until)
    ]


def arrivals(history, published: list[int]) -> list[int]:
    """Bars at whose close a headline of the last 30 minutes first shows (entries follow)."""
    closes = history.open_seconds + 60
    met = [any(t - 1800 <= p <= t for p in published) for t in closes]
    return [b for b in range(len(met) - 1) if met[b] and (b == 0 or not met[b - 1])]


@pytest.fixture
def news_setup(owner):
    symbol, _ = session_news()
    graph = {
        "nodes": [
            {
                "id": "wire",
                "agent_type": "news_trigger",
                # The sentiment decides (positive, at least 0.5): the news crew is asked.
                "config": {
                    "engine": "llm",
                    "lookback_minutes": 30,
                    "direction": "positive",
                    "min_sentiment": 0.5,
                },
            },
            {
                "id": "trade",
                "agent_type": "trade_manager_agent",
                "config": {
                    "exit_conditions": [{"indicator": "close", "operator": ">", "value": 0}]
                },
            },
        ],
        "edges": [],
    }
    pipeline = Pipeline.objects.create(owner=owner, name="News", graph=graph)
    history = minutes([100.0] * 390)
    dataset = dataset_create_from_csv(
        owner=owner, name="Tuesday", symbol=symbol, content=csv_of(history)
    )
    published = news_of(symbol, history)
    return pipeline, dataset, published, len(arrivals(history, published))


def body(pipeline, dataset, **extra) -> dict:
    return {"pipeline_id": str(pipeline.pk), "dataset_id": str(dataset.pk), **extra}


def bullish(count: int) -> dict:
    return {"scores": [{"index": i, "sentiment": 0.9, "confidence": 0.8} for i in range(count)]}


def start(api, payload, capture) -> Backtest:
    with capture():  # queued after commit; run here, in the test's process
        response = api.post("/api/v1/backtests", payload)
    assert response.status_code == 201, response.content
    backtest_run(backtest_id=response.json()["id"])
    return Backtest.objects.get(pk=response.json()["id"])


def test_it_estimates_the_cost_before_the_start_and_runs_within_the_budget(
    api, openai_fake, news_setup, django_capture_on_commit_callbacks
):
    pipeline, dataset, published, entries = news_setup

    estimate = api.post("/api/v1/backtests/estimate", body(pipeline, dataset))

    assert estimate.status_code == 200, estimate.content
    assert estimate.json() == {"bars": 390, "llm_estimate": str(ONE_CALL)}
    assert openai_fake.completions == []  # estimating spends nothing
    openai_fake.answer(bullish(len(published)))

    backtest = start(
        api, body(pipeline, dataset, llm_budget="1.00"), django_capture_on_commit_callbacks
    )

    assert backtest.status == BacktestStatus.COMPLETED, backtest.error
    shown = api.get(f"/api/v1/backtests/{backtest.pk}").json()
    assert (shown["llm_budget"], shown["llm_estimate"]) == ("1.0000", str(ONE_CALL))
    assert Decimal(shown["llm_cost"]) == backtest.llm_cost
    assert len(openai_fake.completions) == 1
    assert Decimal(0) < backtest.llm_cost <= Decimal("1.00")
    assert backtest.llm_estimate == ONE_CALL
    # Every headline scored bullish: each arrival starts a trade.
    assert entries >= 1
    assert BacktestTrade.objects.filter(backtest=backtest).count() == entries


def test_without_a_budget_only_the_replay_cache_answers(
    api, openai_fake, news_setup, django_capture_on_commit_callbacks
):
    pipeline, dataset, published, _ = news_setup
    capture = django_capture_on_commit_callbacks

    refused = start(api, body(pipeline, dataset), capture)

    # Nothing cached yet and no budget: stopped before a token was bought.
    assert refused.status == BacktestStatus.FAILED
    assert "Stopped at the LLM budget ($0)" in refused.error
    assert "rules engine" in refused.error
    assert openai_fake.completions == []
    assert refused.llm_cost == 0

    openai_fake.answer(bullish(len(published)))
    paid = start(api, body(pipeline, dataset, llm_budget="1.00"), capture)
    replayed = start(api, body(pipeline, dataset), capture)

    assert (paid.status, replayed.status) == (BacktestStatus.COMPLETED,) * 2
    assert len(openai_fake.completions) == 1  # the second run was answered from the cache
    assert replayed.llm_cost == 0
    assert replayed.trades_count == paid.trades_count


def test_the_cap_is_hard(api, openai_fake, news_setup, django_capture_on_commit_callbacks):
    pipeline, dataset, published, _ = news_setup
    openai_fake.answer(bullish(len(published)))

    capped = start(
        api, body(pipeline, dataset, llm_budget="0.0001"), django_capture_on_commit_callbacks
    )

    assert capped.status == BacktestStatus.FAILED
    assert "Stopped at the LLM budget ($0.0001)" in capped.error
    assert openai_fake.completions == []  # the call could have cost more: never made
    assert capped.llm_cost == 0


def test_an_llm_engine_the_backtester_does_not_replay_is_refused_naming_the_field(
    api, owner, news_setup
):
    _, dataset, _, _ = news_setup
    graph = {
        "nodes": [
            {"id": "t", "agent_type": "time_trigger", "config": {}},
            {"id": "plan", "agent_type": "strategy_agent", "config": {"engine": "llm"}},
        ]
    }
    pipeline = Pipeline.objects.create(owner=owner, name="LLM strategy", graph=graph)

    response = api.post("/api/v1/backtests", body(pipeline, dataset, llm_budget="5"))

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "plan.engine"]
    assert "rules" in problem["msg"]


def test_the_page_shows_the_estimate_and_starts_only_on_the_second_press(
    owner_client, openai_fake, news_setup, django_capture_on_commit_callbacks
):
    pipeline, dataset, _published, _ = news_setup
    url = f"/pipelines/{pipeline.pk}/backtests/"
    form = {
        "dataset": str(dataset.pk),
        "initial_cash": "10000",
        "commission_pct": "0",
        "commission_per_share": "0",
        "slippage_pct": "0",
        "fill_at": "next_open",
        "side": "long",
        "llm_budget": "1.00",
    }

    page = owner_client.get(url).content.decode()
    assert 'name="llm_budget"' in page  # an LLM engine: the form asks for a budget

    first = owner_client.post(url, form)

    assert first.status_code == 200
    shown = first.content.decode()
    assert 'data-testid="llm-estimate"' in shown
    assert "$0.30" in shown and "Start backtest, spending up to $1.00" in shown
    assert not Backtest.objects.filter(pipeline=pipeline).exists()  # nothing started yet
    assert openai_fake.completions == []

    with django_capture_on_commit_callbacks():
        second = owner_client.post(url, {**form, "spend_confirmed": "1"})

    backtest = Backtest.objects.get(pipeline=pipeline)
    assert second.status_code == 302
    assert (backtest.llm_budget, backtest.llm_estimate) == (Decimal("1.0000"), ONE_CALL)


def test_a_rules_only_pipeline_asks_for_no_llm_budget(owner_client, owner):
    from pipelines.blueprints import pipeline_create_from_blueprint

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="golden_cross_1d")

    page = owner_client.get(f"/pipelines/{pipeline.pk}/backtests/").content.decode()

    assert 'name="llm_budget"' not in page
    assert "4h bars or finer" in page
