"""The backtest engine: differential test against backtesting.py on its GOOG data, and bracket
exits computed by hand (stop, target 1 + breakeven then target 2, both targets in one bar, a gap
through the stop, stop and target in one bar, end-of-day flatten)."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from pipelines.backtest.engine import AT_CLOSE, Costs, History, run_backtest
from pipelines.backtest.plan import PlanError, plan_from_pipeline

# --- differential test -------------------------------------------------------------------------


class SmaCrossLong(Strategy):
    """backtesting.py's SmaCross, long only: buy on the up-cross, close on the down-cross."""

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, 10)
        self.sma2 = self.I(SMA, self.data.Close, 20)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()


def sma_condition(operator: str) -> list[dict]:
    return [
        {"indicator": "sma_10", "operator": operator, "compare_to": "sma_20", "timeframe": "1d"}
    ]


SMA_CROSS_GRAPH = {
    "nodes": [
        {
            "id": "trigger",
            "agent_type": "technical_trigger",
            "config": {"conditions": sma_condition("crosses_above")},
        },
        {
            "id": "risk",
            "agent_type": "risk_manager_agent",
            "config": {
                "sizing_method": "equity_fraction",
                "equity_fraction_pct": 100,
                "max_position_pct": 100,
                "max_symbol_exposure_pct": 100,
            },
        },
        {
            "id": "trade",
            "agent_type": "trade_manager_agent",
            "config": {"exit_conditions": sma_condition("crosses_below")},
        },
    ],
    "edges": [{"from": "trigger", "to": "risk"}, {"from": "risk", "to": "trade"}],
}


def history_of(frame: pd.DataFrame, symbol: str, timeframe: str) -> History:
    seconds = (frame.index - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return History(
        symbol,
        timeframe,
        np.asarray(seconds, dtype=np.int64),
        *(frame[column].to_numpy(np.float64) for column in ("Open", "High", "Low", "Close")),
        frame["Volume"].to_numpy(np.float64),
    )


def test_it_trades_the_sma_cross_exactly_like_backtesting_py():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = Backtest(
            GOOG, SmaCrossLong, cash=10_000, commission=0.002, exclusive_orders=True
        ).run()
    plan = plan_from_pipeline(graph=SMA_CROSS_GRAPH, schedule=None, timeframe="1d")

    result = run_backtest(
        history_of(GOOG, "GOOG", "1d"), plan, Costs(initial_cash=10_000, commission_pct=0.2)
    )

    assert len(GOOG) == 2148
    theirs = reference._trades
    ours = result.closed_trades
    assert len(ours) == len(theirs) == 46
    assert [(t.entry_bar, t.exit_bar, t.quantity) for t in ours] == [
        (int(r.EntryBar), int(r.ExitBar), int(r.Size)) for r in theirs.itertuples()
    ]
    assert [t.entry_price for t in ours] == pytest.approx(list(theirs.EntryPrice), rel=1e-9)
    assert [t.exit_price for t in ours] == pytest.approx(list(theirs.ExitPrice), rel=1e-9)
    assert [t.net_pnl for t in ours] == pytest.approx(list(theirs.PnL), rel=1e-9)
    # The position still open at the end is reported open, marked to the last close.
    assert [(t.entry_bar, t.is_open) for t in result.open_trades] == [(2087, True)]
    assert result.final_equity == pytest.approx(reference["Equity Final [$]"], rel=1e-9)
    assert result.equity[-1] == result.final_equity


class SmaCross(Strategy):
    """backtesting.py's own SmaCross: always in the market, reversing on each cross."""

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, 10)
        self.sma2 = self.I(SMA, self.data.Close, 20)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def test_it_reverses_long_and_short_exactly_like_backtesting_py():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = Backtest(
            GOOG, SmaCross, cash=10_000, commission=0.002, exclusive_orders=True
        ).run()
    # side "both": the entry conditions open a long, the exit conditions a short.
    plan = plan_from_pipeline(graph=SMA_CROSS_GRAPH, schedule=None, timeframe="1d", side="both")

    result = run_backtest(
        history_of(GOOG, "GOOG", "1d"), plan, Costs(initial_cash=10_000, commission_pct=0.2)
    )

    theirs = reference._trades
    ours = result.closed_trades
    assert len(ours) == len(theirs) > 90
    assert [
        (t.entry_bar, t.exit_bar, t.quantity if t.side == "long" else -t.quantity) for t in ours
    ] == [(int(r.EntryBar), int(r.ExitBar), int(r.Size)) for r in theirs.itertuples()]
    assert [t.entry_price for t in ours] == pytest.approx(list(theirs.EntryPrice), rel=1e-9)
    assert [t.exit_price for t in ours] == pytest.approx(list(theirs.ExitPrice), rel=1e-9)
    assert result.final_equity == pytest.approx(reference["Equity Final [$]"], rel=1e-9)


# --- hand-computed brackets ----------------------------------------------------------------------

OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 New York
FLAT = (100.0, 100.5, 99.5, 100.0)  # true range 1.00, so ATR(14) is exactly 1.00
SIGNAL = (100.5, 101.0, 100.0, 100.8)  # closes above 100.60 (true range still 1.00)
ENTRY = (101.0, 101.5, 100.5, 101.0)  # the next bar: the entry fills at its 101.00 open


def minute_history(bars: list[tuple[float, float, float, float]], start=OPEN) -> History:
    first = int(start.timestamp())
    rows = np.array(bars, dtype=np.float64)
    return History(
        "TEST",
        "1m",
        np.arange(first, first + 60 * len(bars), 60, dtype=np.int64),
        rows[:, 0],
        rows[:, 1],
        rows[:, 2],
        rows[:, 3],
        np.full(len(bars), 1000.0),
    )


def bracket_plan(*, schedule=None, split=(50, 50)):
    # Entry when the close crosses above 100.60. The strategy's ATR stop: 100.80 − 2 × 1.00 =
    # 98.80 (risk 2.00); targets 1.5R = 103.80 and 3R = 106.80. 100 shares, fixed.
    graph = {
        "nodes": [
            {
                "id": "trigger",
                "agent_type": "price_trigger",
                "config": {"condition": "crosses_above", "level": 100.6},
            },
            {
                "id": "strategy",
                "agent_type": "strategy_agent",
                "config": {"timeframe": "1m", "atr_multiplier": 2, "target_1_r": 1.5},
            },
            {
                "id": "risk",
                "agent_type": "risk_manager_agent",
                "config": {
                    "sizing_method": "fixed_quantity",
                    "fixed_quantity": 100,
                    "max_position_pct": 100,
                },
            },
            {
                "id": "trade",
                "agent_type": "trade_manager_agent",
                "config": {"partial_exit_split": list(split), "move_stop_to_breakeven": True},
            },
        ],
        "edges": [],
    }
    return plan_from_pipeline(graph=graph, schedule=schedule, timeframe="1m")


def replay(after_entry, *, plan=None, costs=None, start=OPEN, entry_price=101.0):
    bars = [FLAT] * 20 + [SIGNAL, ENTRY, *after_entry, ENTRY]
    result = run_backtest(
        minute_history(bars, start), plan or bracket_plan(), costs or Costs(initial_cash=100_000)
    )
    assert len(result.trades) == 1
    trade = result.trades[0]
    assert (trade.entry_bar, trade.entry_price, trade.quantity) == (21, entry_price, 100)
    assert (trade.stop_loss, trade.target_1, trade.target_2) == (98.8, 103.8, 106.8)
    return result, trade


def test_it_exits_at_the_stop():
    result, trade = replay([(100.0, 100.2, 98.5, 99.0)])

    assert (trade.exit_bar, trade.exit_price, trade.close_reason) == (22, 98.8, "stop_hit")
    assert trade.net_pnl == pytest.approx(100 * (98.80 - 101.00))  # −220.00
    assert result.final_equity == pytest.approx(100_000 - 220)


def test_it_takes_target_1_moves_the_stop_to_breakeven_then_target_2():
    result, trade = replay([(102.0, 104.0, 101.5, 103.9), (104.0, 107.0, 103.9, 106.9)])

    assert (trade.partial_exit_quantity, trade.partial_exit_price) == (50, 103.8)
    assert trade.exits == [(22, 50, 103.8), (23, 50, 106.8)]
    assert trade.close_reason == "target_2_hit"
    # 50 × 2.80 + 50 × 5.80 = 430.00
    assert trade.net_pnl == pytest.approx(430.0)
    # Marked at bar 22's close with 50 shares still held: 140 realised + 50 × 2.90 open.
    assert result.equity[22] == pytest.approx(100_000 + 140 + 50 * (103.9 - 101.0))


def test_after_target_1_the_breakeven_stop_closes_the_rest_at_the_entry():
    _, trade = replay([(102.0, 104.0, 101.5, 103.9), (102.0, 102.5, 100.5, 100.7)])

    assert trade.exits == [(22, 50, 103.8), (23, 50, 101.0)]
    assert trade.close_reason == "stop_hit"
    assert trade.net_pnl == pytest.approx(140.0)


def test_it_fills_target_1_then_target_2_inside_one_bar():
    _, trade = replay([(102.0, 107.0, 101.8, 106.0)])

    assert trade.exits == [(22, 50, 103.8), (22, 50, 106.8)]
    assert trade.net_pnl == pytest.approx(430.0)


def test_a_gap_through_the_stop_fills_at_the_open():
    _, trade = replay([(97.5, 98.0, 97.0, 97.8)])

    assert (trade.exit_price, trade.close_reason) == (97.5, "stop_hit")
    assert trade.net_pnl == pytest.approx(-350.0)


def test_a_bar_touching_the_stop_and_a_target_is_resolved_stop_first():
    _, trade = replay([(101.0, 104.0, 98.5, 102.0)])

    assert trade.exits == [(22, 100, 98.8)]
    assert trade.net_pnl == pytest.approx(-220.0)


def test_it_flattens_at_the_end_of_the_day():
    # 20 warm-up bars, the signal (15:57), the entry (15:58) and 15:59, the day's last bar:
    # it closes the position at its close, 101.50. The next morning's bar changes nothing.
    start = datetime(2026, 11, 24, 20, 37, tzinfo=UTC)  # 15:37 New York; last bar 15:59
    plan = bracket_plan(schedule={"flatten_positions_at_end": True})
    bars = [FLAT] * 20 + [SIGNAL, ENTRY, (101.2, 101.8, 100.9, 101.5)]
    next_day = [(101.5, 102.0, 101.0, 101.6)]
    history = minute_history(bars, start)
    tomorrow = minute_history(next_day, datetime(2026, 11, 25, 14, 30, tzinfo=UTC))
    history = History(
        "TEST",
        "1m",
        *(
            np.r_[getattr(history, name), getattr(tomorrow, name)]
            for name in ("open_seconds", "open", "high", "low", "close", "volume")
        ),
    )

    result = run_backtest(history, plan, Costs(initial_cash=100_000))

    trade = result.trades[0]
    assert (trade.exit_bar, trade.exit_price, trade.close_reason) == (22, 101.5, "end_of_day")
    assert trade.net_pnl == pytest.approx(50.0)


def test_costs_come_off_each_fill():
    # 0.1% slippage: buy at 101.101; the stop sells at 98.80 − 0.0988 = 98.7012. Commission
    # $0.005 a share: 0.50 in, 0.50 out.
    costs = Costs(initial_cash=100_000, commission_per_share=0.005, slippage_pct=0.1)
    _, trade = replay([(100.0, 100.2, 98.5, 99.0)], costs=costs, entry_price=101.101)

    assert trade.exit_price == pytest.approx(98.7012)
    assert trade.net_pnl == pytest.approx(100 * (98.7012 - 101.101) - 1.0)


def test_it_fills_at_the_close_when_asked():
    plan = plan_from_pipeline(graph=SMA_CROSS_GRAPH, schedule=None, timeframe="1d")
    result = run_backtest(
        history_of(GOOG, "GOOG", "1d"),
        plan,
        Costs(initial_cash=10_000, commission_pct=0.2, fill_at=AT_CLOSE),
    )

    first = result.trades[0]
    assert first.entry_price == GOOG.Close.iloc[first.entry_bar]
    assert first.exit_price == GOOG.Close.iloc[first.exit_bar]


def test_it_refuses_a_pipeline_it_cannot_replay():
    graph = {
        "nodes": [
            {"id": "t", "agent_type": "time_trigger", "config": {}},
            {"id": "plan", "agent_type": "strategy_agent", "config": {"engine": "llm"}},
        ]
    }
    with pytest.raises(PlanError) as refused:
        plan_from_pipeline(graph=graph, schedule=None, timeframe="1d")
    assert refused.value.field == "plan.engine"


def test_walk_forward_reports_out_of_sample_windows_and_the_combinations_tried():
    from pipelines.backtest.walkforward import walk_forward

    grid = {
        "trade.exit_conditions": [sma_condition("crosses_below")],
        "risk.equity_fraction_pct": [50, 100],
    }
    result = walk_forward(
        history=history_of(GOOG, "GOOG", "1d"),
        graph=SMA_CROSS_GRAPH,
        schedule=None,
        grid=grid,
        costs=Costs(initial_cash=10_000, commission_pct=0.2),
        in_sample_bars=500,
        out_of_sample_bars=250,
    )

    # 2,148 bars: windows start at 0, 250, …, 1250 (1250 + 750 ≤ 2148; 1500 + 750 > 2148).
    assert [w.out_of_sample for w in result.windows] == [
        (500, 750),
        (750, 1000),
        (1000, 1250),
        (1250, 1500),
        (1500, 1750),
        (1750, 2000),
    ]
    assert result.combinations_tried == 2
    assert "2 combinations were tried" in result.warning
    # In-sample, all-in beats half-in whenever the window made money.
    for window in result.windows:
        expected = 100 if window.in_sample_return_pct > 0 else 50
        assert window.parameters["risk.equity_fraction_pct"] == expected
    growth = 1.0
    for window in result.windows:
        growth *= 1 + window.out_of_sample_return_pct / 100
    assert result.out_of_sample_return_pct == pytest.approx((growth - 1) * 100, abs=1e-3)


def test_it_sets_the_strategy_s_swing_stop():
    # Swing stop over the last 10 bars: the lowest low is 99.50, so the risk is 100.80 − 99.50
    # = 1.30; targets 1.5R = 102.75 and 3R = 104.70. Half at T1, the rest at T2:
    # 50 × (102.75 − 101.00) + 50 × (104.70 − 101.00) = 87.50 + 185.00 = 272.50.
    plan = dataclasses.replace(bracket_plan(), stop_method="swing", swing_lookback=10)
    bars = [FLAT] * 20 + [
        SIGNAL,
        ENTRY,
        (101.0, 103.0, 100.9, 102.9),
        (103.0, 105.0, 102.8, 104.9),
        ENTRY,
    ]

    result = run_backtest(minute_history(bars), plan, Costs(initial_cash=100_000))

    [trade] = result.trades
    assert (trade.stop_loss, trade.target_1, trade.target_2) == (99.5, 102.75, 104.7)
    assert trade.exits == [(22, 50, 102.75), (23, 50, 104.7)]
    assert trade.net_pnl == pytest.approx(272.5)
