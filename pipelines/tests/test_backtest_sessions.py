"""Backtests keep the live rules of time: the exchange calendar (holidays and pre-market bars are
not traded), the pipeline's trading window and end-of-day flatten, its Time and News Triggers —
each case computed by hand on one-minute bars of Tuesday 24 November 2026 (09:30 New York =
14:30 UTC) and the Thanksgiving week around it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from pipelines.backtest.engine import Costs, History, run_backtest
from pipelines.backtest.plan import PlanError, plan_from_pipeline
from pipelines.backtest.sessions import exchange_session_bars
from trading.marketdata.registry import news_provider

TUESDAY_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 New York
LEVEL = 100.5
QUANTITY = 10


def minutes(closes: list[float], start: datetime = TUESDAY_OPEN) -> History:
    """One-minute bars closing at `closes`, each opening at the previous close."""
    first = int(start.timestamp())
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.r_[close[0], close[:-1]]
    return History(
        "TEST",
        "1m",
        np.arange(first, first + 60 * len(closes), 60, dtype=np.int64),
        open_,
        np.maximum(open_, close) + 0.2,
        np.minimum(open_, close) - 0.2,
        close,
        np.full(len(closes), 1000.0),
    )


def crossing_at(count: int, *bars: int) -> list[float]:
    """`count` bars at 100.00; each bar in `bars` closes at 101.00 (crossing 100.50) and the
    next is back at 100.00, so every listed bar is a fresh crossing."""
    closes = [100.0] * count
    for bar in bars:
        closes[bar] = 101.0
    return closes


def graph(*nodes: dict) -> dict:
    risk = {
        "id": "risk",
        "agent_type": "risk_manager_agent",
        "config": {"sizing_method": "fixed_quantity", "fixed_quantity": QUANTITY},
    }
    return {"nodes": [*nodes, risk], "edges": []}


PRICE_TRIGGER = {
    "id": "price",
    "agent_type": "price_trigger",
    "config": {"condition": "crosses_above", "level": LEVEL},
}
WINDOW = {
    "start_time": "10:00",
    "end_time": "10:30",
    "timezone": "America/New_York",
    "flatten_positions_at_end": True,
}


def replay(history: History, nodes: list[dict], schedule=None):
    plan = plan_from_pipeline(graph=graph(*nodes), schedule=schedule, timeframe="1m")
    return run_backtest(history, plan, Costs(initial_cash=100_000))


def at(bar: int, start: datetime = TUESDAY_OPEN) -> int:
    return int(start.timestamp()) + 60 * bar


# --- the exchange calendar ------------------------------------------------------------------


def test_it_drops_bars_outside_exchange_sessions():
    # Wednesday 25 Nov 15:58-16:01 (two session bars, two after the close), Thanksgiving
    # (Thursday 26 Nov, closed) at 10:00, Friday 27 Nov 09:29 (pre-market) and 09:30.
    stamps = [
        datetime(2026, 11, 25, 20, 58, tzinfo=UTC),
        datetime(2026, 11, 25, 20, 59, tzinfo=UTC),
        datetime(2026, 11, 25, 21, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 21, 1, tzinfo=UTC),
        datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 14, 29, tzinfo=UTC),
        datetime(2026, 11, 27, 14, 30, tzinfo=UTC),
    ]
    prices = np.arange(1.0, 8.0)
    history = History(
        "TEST",
        "1m",
        np.array([int(s.timestamp()) for s in stamps], dtype=np.int64),
        prices,
        prices + 0.5,
        prices - 0.5,
        prices,
        prices,
    )

    kept = exchange_session_bars(history)

    assert kept.close.tolist() == [1.0, 2.0, 7.0]
    assert kept.open_seconds.tolist() == [int(stamps[i].timestamp()) for i in (0, 1, 6)]


def test_a_signal_on_a_holiday_bar_is_never_traded():
    # Thanksgiving bars carry the only crossing; once the calendar drops them nothing trades.
    thanksgiving = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
    history = exchange_session_bars(minutes(crossing_at(30, 10), thanksgiving))

    assert len(history) == 0
    assert len(exchange_session_bars(minutes(crossing_at(30, 10)))) == 30


def test_an_entry_signalled_on_the_session_s_last_bar_fills_at_the_next_open():
    # Wednesday 25 Nov: 15:50-15:59, the crossing on 15:59; Friday 27 Nov opens at 09:30.
    wednesday = minutes(crossing_at(10, 9), datetime(2026, 11, 25, 20, 50, tzinfo=UTC))
    friday = minutes([100.0] * 5, datetime(2026, 11, 27, 14, 30, tzinfo=UTC))
    history = History(
        "TEST",
        "1m",
        *(
            np.r_[getattr(wednesday, name), getattr(friday, name)]
            for name in ("open_seconds", "open", "high", "low", "close", "volume")
        ),
    )

    result = replay(history, [PRICE_TRIGGER])

    (trade,) = result.trades
    assert trade.entry_bar == 10
    assert trade.entry_seconds == int(datetime(2026, 11, 27, 14, 30, tzinfo=UTC).timestamp())
    assert trade.entry_price == 100.0  # Friday's first open, not Wednesday's 101.00 close


# --- the trading window and end of day ------------------------------------------------------


def test_it_opens_positions_only_inside_the_trading_window_and_flattens_at_its_end():
    # Crossings close at 09:51 (before the 10:00-10:30 window), 10:06 (inside) and 10:36
    # (after). Only 10:06 enters, at the 10:06 bar's open (101.00); the window ends during
    # no bar's middle: the 10:29 bar closes at 10:30 and the position is flattened at its
    # close, 100.00.
    history = minutes(crossing_at(70, 20, 35, 65))

    result = replay(history, [PRICE_TRIGGER], WINDOW)

    (trade,) = result.trades
    assert (trade.entry_bar, trade.entry_price, trade.quantity) == (36, 101.0, QUANTITY)
    assert (trade.exit_bar, trade.exit_price, trade.close_reason) == (59, 100.0, "end_of_day")
    assert trade.net_pnl == pytest.approx(QUANTITY * (100.0 - 101.0))


def test_without_end_of_day_flatten_the_position_outlives_the_window():
    history = minutes(crossing_at(70, 35))

    result = replay(history, [PRICE_TRIGGER], {**WINDOW, "flatten_positions_at_end": False})

    (trade,) = result.trades
    assert trade.is_open and trade.entry_bar == 36


def test_no_new_position_in_the_last_five_minutes_of_the_window():
    # The 10:26 bar closes at 10:27, three minutes before the end: no new cycle, no entry. The
    # 10:24 bar closes at 10:25, five minutes before: it enters.
    late = replay(minutes(crossing_at(70, 56)), [PRICE_TRIGGER], WINDOW)
    in_time = replay(minutes(crossing_at(70, 54)), [PRICE_TRIGGER], WINDOW)

    assert late.trades == []
    (trade,) = in_time.trades
    assert (trade.entry_bar, trade.exit_bar) == (55, 59)


def test_inactive_days_open_no_position():
    # Tuesday is weekday 1; a pipeline active Mondays only never enters that day.
    history = minutes(crossing_at(70, 35))

    result = replay(history, [PRICE_TRIGGER], {**WINDOW, "active_days": [0]})

    assert result.trades == []


# --- the time trigger -----------------------------------------------------------------------


def time_trigger(**schedule) -> dict:
    return {"id": "clock", "agent_type": "time_trigger", "config": {"schedule": schedule}}


def test_a_time_trigger_alone_enters_once_per_window_at_its_time():
    # 10:00 New York, 30-minute window. The 09:59 bar closes at 10:00: the entry fills at the
    # 10:00 bar's open. The exit condition (close below 99.50) fires on the 10:04 bar and the
    # trade closes at the 10:05 open; the window is still open, but the trigger has fired.
    closes = [100.0] * 60
    closes[34] = 99.0
    history = minutes(closes)
    exit_below = {
        "id": "trade",
        "agent_type": "trade_manager_agent",
        "config": {"exit_conditions": [{"indicator": "close", "operator": "<", "value": 99.5}]},
    }

    result = replay(history, [time_trigger(type="specific_time", time="10:00"), exit_below])

    (trade,) = result.trades
    assert trade.entry_seconds == at(30)
    assert (trade.entry_bar, trade.exit_bar, trade.close_reason) == (30, 35, "exit_condition")


def test_a_time_trigger_beside_a_price_trigger_lets_crossings_through_in_its_window_only():
    # Market hours with a 45-minute offset: met from 10:15 to the close. The 10:05 crossing
    # waits in vain; the 10:20 one enters at the 10:21 open.
    history = minutes(crossing_at(70, 35, 50))

    result = replay(history, [time_trigger(type="market_hours", offset_minutes=45), PRICE_TRIGGER])

    (trade,) = result.trades
    assert trade.entry_bar == 51


def test_a_cron_time_trigger_fires_on_each_matching_bar():
    # Every 15 minutes from 10:00 with a 1-minute window: 10:00, 10:15,
    # 10:30 and 10:45 each start one run. A fixed exit condition (always true) closes each
    # trade at the next open, so the four entries are visible.
    history = minutes([100.0] * 80)
    always = {
        "id": "trade",
        "agent_type": "trade_manager_agent",
        "config": {"exit_conditions": [{"indicator": "close", "operator": ">", "value": 0}]},
    }
    trigger = time_trigger(type="cron", cron="*/15 10 * * *", window_minutes=1)

    result = replay(history, [trigger, always])

    assert [t.entry_bar for t in result.trades] == [30, 45, 60, 75]


# --- the news trigger -----------------------------------------------------------------------


def session_news(symbols=("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOGL")):
    """A symbol with headlines during Tuesday's session in the project's news provider, and
    their publication times (epoch seconds)."""
    close = TUESDAY_OPEN.replace(hour=21)
    for symbol in symbols:
        found = news_provider().headlines([symbol], since=TUESDAY_OPEN, until=close)
        if found:
            return symbol, [int(h.published_at.timestamp()) for h in found]
    raise AssertionError("no session headlines for any symbol: the news provider changed")


def test_a_news_trigger_alone_enters_when_matching_news_arrives():
    # Any headline counts (no keywords, no sentiment floor) for 30 minutes after it is out.
    # Met at a bar whose close t has a headline in [t − 30 min, t]; alone, the trigger starts
    # a run when it becomes met, and the entry fills at the next bar's open. An exit
    # condition that always holds closes each trade one bar later, so each arrival shows.
    symbol, published = session_news()
    history = dataclasses.replace(minutes([100.0] * 390), symbol=symbol)
    closes = history.open_seconds + 60
    met = [any(t - 1800 <= p <= t for p in published) for t in closes]
    arrivals = [b for b in range(390) if met[b] and (b == 0 or not met[b - 1])]
    news = {"id": "wire", "agent_type": "news_trigger", "config": {"lookback_minutes": 30}}
    always = {
        "id": "trade",
        "agent_type": "trade_manager_agent",
        "config": {"exit_conditions": [{"indicator": "close", "operator": ">", "value": 0}]},
    }

    result = replay(history, [news, always])

    assert arrivals, "the chosen headlines fall inside the session"
    assert [t.entry_bar for t in result.trades] == [b + 1 for b in arrivals if b + 1 < 390]


def test_it_refuses_a_time_trigger_whose_side_a_bias_node_picks():
    bias = {"id": "mood", "agent_type": "bias_agent", "config": {}}

    with pytest.raises(PlanError) as refused:
        plan_from_pipeline(
            graph=graph(time_trigger(type="market_hours"), bias), schedule=None, timeframe="1m"
        )

    assert refused.value.field == "mood"


def test_it_refuses_a_schedule_it_cannot_read_naming_the_field():
    with pytest.raises(PlanError) as refused:
        plan_from_pipeline(
            graph=graph(PRICE_TRIGGER), schedule={"start_time": "25:00"}, timeframe="1m"
        )

    assert refused.value.field == "schedule.start_time"
