"""Each backtest trade keeps why it was entered — the trigger, the Bias node's reading, the
Strategy's levels — as a live trade's run report does; written at the entry by the replay."""

from __future__ import annotations

from pipelines.backtest.bias import BiasReplay
from pipelines.backtest.engine import Costs, run_backtest
from pipelines.backtest.reasoning import MAX_PART, _clip
from pipelines.tests.test_backtest_bias import bias_plan, spiking_history
from pipelines.tests.test_backtest_engine import replay


def test_it_words_the_rules_strategy_s_stop_and_targets():
    # test_backtest_engine's bracket: the close crosses above 100.60; ATR(14) 1.00, a stop 2 ATR
    # under the 100.80 close, targets 1.5R and 3R.
    _, trade = replay([(100.0, 100.2, 98.5, 99.0)])

    assert trade.reasoning == (
        "Trigger: close crosses above 100.6 (1m). Stop 2 x ATR(14) (1.00) below the entry: "
        "98.80; targets 1.5R 103.80 and 3R 106.80."
    )


def test_it_keeps_the_bias_s_own_reading_of_the_signal_bar():
    history = spiking_history()
    plan = bias_plan(side="both")
    # The bias read by itself on the two bars the trades were signalled on (40 and 100).
    reader = BiasReplay(history, plan)
    reader.side_at(40), reader.side_at(100)

    long, short = run_backtest(history, plan, Costs(initial_cash=100_000)).trades

    assert reader.signals[40].reasoning.startswith("TEST reads bullish with 100% confidence")
    assert long.reasoning == (
        f"Trigger: volume > 1500 (1m). Bias (rules): {reader.signals[40].reasoning}"
    )
    assert short.reasoning == (
        f"Trigger: volume > 1500 (1m). Bias (rules): {reader.signals[100].reasoning}"
    )


def test_it_keeps_a_long_reading_to_a_few_sentences():
    words = "The trend is up. " * 100

    clipped = _clip(words)

    assert MAX_PART - 5 < len(clipped) <= MAX_PART and clipped.endswith("is…")
    assert _clip("  Short\n and   plain. ") == "Short and plain."
    assert _clip("no full stop") == "no full stop."
