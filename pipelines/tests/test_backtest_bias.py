"""The Bias node in a backtest picks each trade's side as it does live, read on the bars where the
trigger fired only — computed by hand on one-minute bars of Tuesday 24 November 2026.

The bars rise 0.10 a minute for 60 bars, then fall 0.10 a minute. Each opens at the previous
close with 0.20 of wick either side, so every true range is 0.50 and ATR(14) is 0.50. With SMA 20
and ATR the only indicators, the bias reads one component on the 1m timeframe, the close against
its SMA 20 in ATRs, clipped to ±1; it is bullish from +0.3 and bearish from −0.3, with confidence
100 × (0.7 × |score| + 0.3) (one timeframe, so it always agrees with itself).
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.state import BiasType
from pipelines.backtest.bias import BiasReplay
from pipelines.backtest.engine import Costs, run_backtest
from pipelines.backtest.plan import plan_from_pipeline
from pipelines.tests.test_backtest_sessions import graph, minutes

RISING = [100.0 + 0.1 * i for i in range(60)]
CLOSES = RISING + [105.9 - 0.1 * (i + 1) for i in range(60)]
# The volume spikes the Technical Trigger fires on.
SPIKES = (10, 40, 64, 68, 100)
ALWAYS = {"indicator": "close", "operator": ">", "value": 0}  # each trade exits a bar later


def spiking_history():
    history = minutes(CLOSES)
    history.volume[list(SPIKES)] = 5000.0
    return history


def bias_nodes(**bias_config) -> list[dict]:
    return [
        {
            "id": "spike",
            "agent_type": "technical_trigger",
            "config": {
                "conditions": [
                    {"indicator": "volume", "operator": ">", "value": 1500, "timeframe": "1m"}
                ]
            },
        },
        {
            "id": "data",
            "agent_type": "market_data_agent",
            "config": {"indicators": ["SMA_20", "ATR"]},
        },
        {
            "id": "mood",
            "agent_type": "bias_agent",
            "config": {"analysis_timeframes": ["1m"], "confidence_threshold": 90, **bias_config},
        },
        {
            "id": "trade",
            "agent_type": "trade_manager_agent",
            "config": {"exit_conditions": [ALWAYS]},
        },
    ]


def bias_plan(side: str = "long", **bias_config):
    return plan_from_pipeline(
        graph=graph(*bias_nodes(**bias_config)), schedule=None, timeframe="1m", side=side
    )


def test_it_reads_the_bias_by_hand_on_the_trigger_bars():
    history = spiking_history()
    bias = BiasReplay(history, bias_plan(side="both"))

    sides = {bar: bias.side_at(bar) for bar in SPIKES}

    # Bar 10: no SMA 20 and no ATR yet — unreadable, as a live run with too few bars.
    # Bar 40: close 104.0, SMA 20 of 102.1…104.0 = 103.05: +0.95 / 0.50 → +1, bullish 100 %.
    # Bar 64: close 105.4, SMA 20 = (15 × 105.2 + 5 × 105.6) / 20 = 105.3: +0.2 → neutral.
    # Bar 68: close 105.0, SMA 20 = 105.4: −0.8 → bearish at 86 % confidence, below the 90 %.
    # Bar 100: close 101.8, SMA 20 of 103.7…101.8 = 102.75: −1.9 → −1, bearish 100 %.
    assert sides == {10: None, 40: "long", 64: None, 68: None, 100: "short"}
    read = bias.signals
    assert (read[40].bias, read[40].confidence, read[40].bias_score) == (BiasType.BULLISH, 100, 1)
    assert read[40].timeframe_breakdown["1m"]["components"] == {"close_vs_sma_20": 1.0}
    assert read[64].bias == BiasType.NEUTRAL
    assert (read[68].bias, read[68].confidence) == (BiasType.BEARISH, 86.0)
    assert (read[100].bias, read[100].confidence) == (BiasType.BEARISH, 100)


def test_it_picks_each_trade_s_side_and_reads_only_the_trigger_bars_while_flat():
    history = spiking_history()
    plan = bias_plan(side="both")

    result = run_backtest(history, plan, Costs(initial_cash=100_000))

    trades = [(t.side, t.entry_bar, t.exit_bar) for t in result.trades]
    # Entered at the next bar's open, left a bar later by the exit condition.
    assert trades == [("long", 41, 42), ("short", 101, 102)]
    long, short = result.trades
    assert long.entry_price == pytest.approx(CLOSES[40])
    assert long.net_pnl == pytest.approx(10 * (CLOSES[41] - CLOSES[40]))
    assert short.net_pnl == pytest.approx(10 * (CLOSES[100] - CLOSES[101]))


def test_a_one_sided_backtest_keeps_the_bias_s_trades_on_its_side():
    history = spiking_history()

    longs = run_backtest(history, bias_plan(side="long"), Costs(initial_cash=100_000))
    shorts = run_backtest(history, bias_plan(side="short"), Costs(initial_cash=100_000))

    assert [(t.side, t.entry_bar) for t in longs.trades] == [("long", 41)]
    assert [(t.side, t.entry_bar) for t in shorts.trades] == [("short", 101)]


def test_the_batch_reading_is_the_live_agent_s_reading():
    """At a trigger bar's close, a live run (the Market Data and Bias agents over the same bars)
    reads the same bias as the replay."""
    from datetime import UTC, datetime

    from agents.tests.factories import build_agent, make_context, make_state
    from agents.tests.providers import ScenarioProvider

    history = spiking_history()
    plan = bias_plan(side="both")
    bias = BiasReplay(history, plan)
    nodes = {node["id"]: node for node in bias_nodes()}
    for bar in (40, 68, 100):
        bias.side_at(bar)
        closed = datetime.fromtimestamp(int(history.open_seconds[bar]) + 60, UTC)
        context = make_context(
            market_data=ScenarioProvider({"TEST": {"1m": history.frame()}}), now=closed
        )
        data = build_agent("market_data_agent", {**nodes["data"]["config"], "timeframes": ["1m"]})
        state = data.process(make_state(["TEST"]), context)
        live = build_agent("bias_agent", nodes["mood"]["config"]).process(state, context)

        replayed, signal = bias.signals[bar], live.bias_results["TEST"]
        assert (replayed.bias, replayed.confidence, replayed.bias_score) == (
            signal.bias,
            signal.confidence,
            signal.bias_score,
        )
        assert replayed.timeframe_breakdown == signal.timeframe_breakdown
        assert replayed.reasoning == signal.reasoning
        assert ("TEST" in live.symbols) == (bias.side_at(bar) is not None)
    assert bias.frames[0].at(100).indicators["sma_20"] == pytest.approx(np.mean(CLOSES[81:101]))


def test_a_higher_analysis_timeframe_reads_its_last_closed_bar():
    history = minutes(CLOSES)
    nodes = bias_nodes()
    nodes[2]["config"]["analysis_timeframes"] = ["5m"]
    plan = plan_from_pipeline(graph=graph(*nodes), schedule=None, timeframe="1m", side="both")
    bias = BiasReplay(history, plan)
    (five,) = bias.frames

    # The 5m bar of minutes 40–44 closes with minute 44; at minute 43 the last closed one is
    # the bar of 35–39, closing at minute 39's close.
    assert five.at(43).ohlcv["close"] == pytest.approx(CLOSES[39])
    assert five.at(44).ohlcv["close"] == pytest.approx(CLOSES[44])
    assert five.at(3) is None  # no 5m bar has closed yet
    assert plan.timeframes == {"1m", "5m"}


def test_a_time_trigger_alone_lets_the_bias_pick_the_side():
    from pipelines.tests.test_backtest_sessions import time_trigger

    # Every 15 minutes from 10:00: the 09:59, 10:14, … bars (29, 44, 59, 74, 89, 104) close
    # when it fires. Rising until bar 59 (close 105.9 vs SMA 20 104.95: +1.9 ATR), then at 74
    # close 104.4 vs SMA 20 (5 × 105.7 + 15 × 105.1) / 20 = 105.25: −1.7 ATR, bearish after.
    history = minutes(CLOSES)
    clock = time_trigger(type="cron", cron="*/15 10-11 * * *", window_minutes=1)
    nodes = [clock, *bias_nodes()[1:]]
    plan = plan_from_pipeline(graph=graph(*nodes), schedule=None, timeframe="1m", side="both")

    result = run_backtest(history, plan, Costs(initial_cash=100_000))

    assert [(t.side, t.entry_bar) for t in result.trades] == [
        ("long", 30),
        ("long", 45),
        ("long", 60),
        ("short", 75),
        ("short", 90),
        ("short", 105),
    ]


# --- the LLM engine: the bias crew, asked on the trigger bars only, within the budget ----------


@pytest.fixture
def llm_bias_setup(owner, openai_fake):
    from pipelines.models import Pipeline
    from pipelines.tests.test_backtest_custom import csv_of
    from tests.fakes.openai import TradingDesk
    from trading.marketdata.datasets import dataset_create_from_csv

    # The crew reads every bar bearish at 75 % (the rules read bar 40 bullish): its answer,
    # not the rules', picks the side.
    openai_fake.responder = TradingDesk(bias="bearish")
    nodes = bias_nodes(engine="llm", confidence_threshold=60)
    pipeline = Pipeline.objects.create(owner=owner, name="LLM bias", graph=graph(*nodes))
    dataset = dataset_create_from_csv(
        owner=owner, name="Tuesday", symbol="TEST", content=csv_of(spiking_history())
    )
    return pipeline, dataset


def start_backtest(api, capture, pipeline, dataset, **extra):
    from pipelines.backtest.services import backtest_run
    from pipelines.models import Backtest

    payload = {"pipeline_id": str(pipeline.pk), "dataset_id": str(dataset.pk), "side": "both"}
    with capture():
        response = api.post("/api/v1/backtests", {**payload, **extra})
    assert response.status_code == 201, response.content
    backtest_run(backtest_id=response.json()["id"])
    return Backtest.objects.get(pk=response.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_it_asks_the_bias_crew_on_the_trigger_bars_only_within_the_budget(
    api, openai_fake, llm_bias_setup, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from pipelines.models import BacktestStatus, BacktestTrade

    pipeline, dataset = llm_bias_setup
    payload = {"pipeline_id": str(pipeline.pk), "dataset_id": str(dataset.pk), "side": "both"}

    estimate = api.post("/api/v1/backtests/estimate", payload)

    # Five trigger bars, each estimated at a bias step's typical 2,000 tokens in and 500 out:
    # 2 × $0.15 + 0.5 × $0.60 = $0.60.
    assert estimate.status_code == 200, estimate.content
    assert estimate.json()["llm_estimate"] == "3.0000"
    assert openai_fake.completions == []

    backtest = start_backtest(
        api, django_capture_on_commit_callbacks, pipeline, dataset, llm_budget="5.00"
    )

    assert backtest.status == BacktestStatus.COMPLETED, backtest.error
    trades = BacktestTrade.objects.filter(backtest=backtest).order_by("entry_at")
    assert [t.side for t in trades] == ["short"] * 4  # bars 40, 64, 68 and 100, the crew's side
    # Bar 10 is unreadable (too few bars): no call. The other four: a crew of three each.
    assert len(openai_fake.completions) == 4 * 3
    assert Decimal(0) < backtest.llm_cost <= Decimal("5.00")


@pytest.mark.django_db(transaction=True)
def test_without_a_budget_the_bias_crew_answers_only_from_the_replay_cache(
    api, openai_fake, llm_bias_setup, django_capture_on_commit_callbacks
):
    from pipelines.models import BacktestStatus

    pipeline, dataset = llm_bias_setup
    capture = django_capture_on_commit_callbacks

    refused = start_backtest(api, capture, pipeline, dataset)

    assert refused.status == BacktestStatus.FAILED
    assert "Stopped at the LLM budget ($0)" in refused.error
    assert openai_fake.completions == []

    paid = start_backtest(api, capture, pipeline, dataset, llm_budget="5.00")
    replayed = start_backtest(api, capture, pipeline, dataset)

    assert (paid.status, replayed.status) == (BacktestStatus.COMPLETED,) * 2
    assert len(openai_fake.completions) == 4 * 3  # the second run came from the cache
    assert replayed.llm_cost == 0
    assert replayed.trades_count == paid.trades_count == 4


@pytest.mark.django_db(transaction=True)
def test_a_budget_too_small_for_one_crew_call_stops_before_any_is_made(
    api, openai_fake, llm_bias_setup, django_capture_on_commit_callbacks
):
    from pipelines.models import BacktestStatus

    pipeline, dataset = llm_bias_setup

    capped = start_backtest(
        api, django_capture_on_commit_callbacks, pipeline, dataset, llm_budget="0.0001"
    )

    assert capped.status == BacktestStatus.FAILED
    assert "Stopped at the LLM budget ($0.0001)" in capped.error
    assert openai_fake.completions == []


# --- the Strategy agent's LLM engine: the crew sets the levels of the trades the bias sides ----


@pytest.mark.django_db(transaction=True)
def test_the_strategy_crew_sets_the_levels_on_the_sided_trigger_bars_only(
    api, owner, openai_fake, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from pipelines.models import BacktestStatus, BacktestTrade, Pipeline
    from pipelines.tests.test_backtest_custom import csv_of
    from tests.fakes.openai import TradingDesk
    from trading.marketdata.datasets import dataset_create_from_csv

    # The bias crew reads every bar bearish; the strategy crew enters at the last close with a
    # stop 1.5 ATR (0.75) beyond it and targets at 2R and 3.5R (the minimum reward is 1.5).
    openai_fake.responder = TradingDesk(bias="bearish")
    trigger, data, mood, _ = bias_nodes(engine="llm", confidence_threshold=60)
    planner = {
        "id": "planner",
        "agent_type": "strategy_agent",
        "config": {"engine": "llm", "timeframe": "1m", "risk_reward_min": 1.5},
    }
    pipeline = Pipeline.objects.create(
        owner=owner, name="LLM plan", graph=graph(trigger, data, mood, planner)
    )
    dataset = dataset_create_from_csv(
        owner=owner, name="Tuesday", symbol="TEST", content=csv_of(spiking_history())
    )

    backtest = start_backtest(
        api, django_capture_on_commit_callbacks, pipeline, dataset, llm_budget="10.00"
    )

    assert backtest.status == BacktestStatus.COMPLETED, backtest.error
    first, *others = BacktestTrade.objects.filter(backtest=backtest).order_by("entry_bar")
    # Short at bar 41's open (104.00): stop 104.75, targets 104 − 1.5 and 104 − 2.625. Prices
    # rise 0.10 a minute: bar 46 (open 104.50, high 104.80) reaches the stop.
    assert (first.side, first.entry_bar, first.entry_price) == ("short", 41, Decimal("104"))
    assert (first.stop_loss, first.target_1, first.target_2) == (
        Decimal("104.75"),
        Decimal("102.5"),
        Decimal("101.38"),
    )
    assert (first.exit_bar, first.exit_price) == (46, Decimal("104.75"))
    # Why, in the crews' own words: the bias synthesizer's and the strategy planner's.
    assert first.reasoning == (
        "Trigger: volume > 1500 (1m). Bias (llm): Trend on the higher timeframes is bearish; "
        "news is quiet. Strategy (llm): With the bias, risking 1.5 ATR for 2R and 3.5R. "
        "Stop 104.75; targets 102.50 and 101.38."
    )
    # Short again at bar 65 (from 105.40, targets 103.90 and 102.78, reached at bars 77 and
    # 89), so bar 68's trigger finds a position and asks nobody; then bar 100 is flat again.
    assert [t.entry_bar for t in others] == [65, 101]
    crews = {c.role for c in openai_fake.completions}
    assert len(openai_fake.completions) == 3 * (3 + 4), crews  # bars 40, 64 and 100


@pytest.mark.django_db(transaction=True)
def test_an_llm_bias_without_a_language_model_is_refused_naming_the_node(api, owner, no_llm):
    from pipelines.models import Backtest, Pipeline
    from pipelines.tests.test_backtest_custom import csv_of
    from trading.marketdata.datasets import dataset_create_from_csv

    pipeline = Pipeline.objects.create(
        owner=owner, name="LLM bias", graph=graph(*bias_nodes(engine="llm"))
    )
    dataset = dataset_create_from_csv(
        owner=owner, name="Tuesday", symbol="TEST", content=csv_of(spiking_history())
    )

    response = api.post(
        "/api/v1/backtests",
        {"pipeline_id": str(pipeline.pk), "dataset_id": str(dataset.pk), "llm_budget": "5"},
    )

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "mood.engine"]
    assert problem["msg"].startswith("The Bias agent uses the LLM engine")
    assert not Backtest.objects.exists()
