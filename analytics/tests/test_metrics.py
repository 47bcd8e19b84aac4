"""The metric functions: return figures equal quantstats', trade figures equal hand-worked lists."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

from analytics import metrics
from analytics.metrics import ClosedTrade

REL = 1e-9


def _at(day: int, hour: int = 14, minute: int = 30) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _trade(day, net, *, side="long", commission="1.00", slippage="0.50", hours=2, **extra):
    net = Decimal(net)
    return ClosedTrade(
        symbol=extra.pop("symbol", "AAPL"),
        side=side,
        quantity=extra.pop("quantity", 10),
        entry_price=Decimal("100"),
        net_pnl=net,
        commission=Decimal(commission),
        slippage=Decimal(slippage),
        opened_at=_at(day),
        closed_at=_at(day) + timedelta(hours=hours),
        close_reason=extra.pop("close_reason", "stop_hit"),
        **extra,
    )


# Worked by hand:
#   net:   +120, -40, +60, 0, -80, +30, +30, +30   (sum = +150; wins 5, losses 2, breakeven 1)
#   win rate = 5/8 = 0.625
#   gross = net + 1.00 commission each = 150 + 8 = 158 (slippage is inside the fill prices)
#   average win = (120+60+30+30+30)/5 = 54; average loss = (-40-80)/2 = -60
#   expectancy = 150/8 = 18.75
#   profit factor = 270 / 120 = 2.25
#   largest win 120, largest loss -80; streaks: wins W L W 0 L W W W → 3; losses → 1
HAND_WORKED = [
    ("120", "long"),
    ("-40", "short"),
    ("60", "long"),
    ("0", "long"),
    ("-80", "short"),
    ("30", "long"),
    ("30", "short"),
    ("30", "long"),
]


@pytest.fixture
def book():
    return metrics.trade_book(
        _trade(day + 2, net, side=side) for day, (net, side) in enumerate(HAND_WORKED)
    )


def test_it_counts_trades_and_win_rate_as_worked_by_hand(book):
    assert metrics.trade_count(book) == 8
    assert metrics.winning_trades(book) == 5
    assert metrics.losing_trades(book) == 2
    assert metrics.win_rate(book) == 0.625


def test_it_sums_net_gross_commission_and_slippage_exactly(book):
    assert metrics.net_pnl(book) == Decimal("150")
    assert metrics.gross_pnl(book) == Decimal("158")
    assert metrics.total_commissions(book) == Decimal("8")
    assert metrics.total_slippage(book) == Decimal("4")


def test_it_works_out_average_win_loss_and_expectancy(book):
    assert metrics.average_win(book) == Decimal("54")
    assert metrics.average_loss(book) == Decimal("-60")
    assert metrics.expectancy(book) == Decimal("18.75")


def test_it_works_out_profit_factor_on_net_pnl(book):
    assert metrics.profit_factor(book) == 2.25


def test_it_finds_largest_win_loss_and_streaks(book):
    assert metrics.largest_win(book) == Decimal("120")
    assert metrics.largest_loss(book) == Decimal("-80")
    assert metrics.max_consecutive_wins(book) == 3
    assert metrics.max_consecutive_losses(book) == 1


def test_it_says_a_pipeline_that_earns_40_and_spends_55_is_losing_15():
    book = metrics.trade_book([_trade(2, "25"), _trade(3, "15")])
    stats = metrics.trade_statistics(book, agent_costs=Decimal("55"))
    assert stats["net_pnl"] == Decimal("40")
    assert stats["pnl_after_costs"] == Decimal("-15")


def test_it_gives_roi_on_allocated_capital(book):
    assert metrics.roi(metrics.net_pnl(book), Decimal("10000")) == 0.015
    assert metrics.roi(metrics.net_pnl(book), None) is None


def test_it_averages_holding_time():
    book = metrics.trade_book([_trade(2, "1", hours=1), _trade(3, "1", hours=4)])
    assert metrics.average_holding_time(book) == timedelta(hours=2, minutes=30)


def test_it_splits_long_and_short(book):
    split = metrics.long_short_split(book)
    assert split["long"]["count"] == 5
    assert split["long"]["wins"] == 4
    assert split["long"]["net_pnl"] == Decimal("240")  # 120 + 60 + 0 + 30 + 30
    assert split["short"]["count"] == 3
    assert split["short"]["net_pnl"] == Decimal("-90")  # -40 - 80 + 30


def test_it_breaks_down_by_symbol_with_count_win_rate_and_pnl():
    book = metrics.trade_book(
        [
            _trade(2, "10", symbol="AAPL"),
            _trade(3, "-4", symbol="AAPL"),
            _trade(4, "7", symbol="MSFT"),
        ]
    )
    rows = metrics.breakdown(book, book.symbol)
    assert rows == [
        {"key": "MSFT", "count": 1, "wins": 1, "win_rate": 1.0, "net_pnl": Decimal("7")},
        {"key": "AAPL", "count": 2, "wins": 1, "win_rate": 0.5, "net_pnl": Decimal("6")},
    ]


def test_it_keys_trades_by_weekday_and_entry_hour_in_exchange_time():
    # 2026-03-02 14:30 UTC is Monday 09:30 in New York (EST, UTC−5).
    book = metrics.trade_book([_trade(2, "1")])
    assert list(metrics.weekday_keys(book, -300)) == ["Mon"]
    assert list(metrics.entry_hour_keys(book, -300)) == ["09:00"]
    assert list(metrics.direction_keys(book)) == ["long"]


def test_it_measures_exposure_counting_overlaps_once():
    trades = [
        _trade(2, "1", hours=2),  # 14:30–16:30
        ClosedTrade(
            symbol="MSFT",
            side="long",
            quantity=1,
            entry_price=Decimal("1"),
            net_pnl=Decimal("1"),
            opened_at=_at(2, 15, 30),
            closed_at=_at(2, 17, 30),  # overlaps: union 14:30–17:30 = 3 h
        ),
    ]
    book = metrics.trade_book(trades)
    start = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert metrics.exposure_time(book, start, start + timedelta(hours=12)) == 0.25


def test_it_returns_none_for_empty_books():
    book = metrics.trade_book([])
    assert metrics.win_rate(book) is None
    assert metrics.profit_factor(book) is None
    assert metrics.expectancy(book) is None
    assert metrics.net_pnl(book) == Decimal("0")


def test_it_builds_daily_equity_from_the_starting_balance_and_realized_pnl(book):
    days = [date(2026, 3, d) for d in range(1, 11)]
    close_days = book.closed_at.astype("datetime64[D]")
    equity = metrics.equity_by_day(Decimal("1000"), book, days, close_days, Decimal("5"))
    assert equity[0] == (date(2026, 3, 1), Decimal("1000.00"))
    assert equity[1] == (date(2026, 3, 2), Decimal("1120.00"))
    assert equity[2] == (date(2026, 3, 3), Decimal("1080.00"))
    assert equity[-2][1] == Decimal("1150.00")
    assert equity[-1][1] == Decimal("1155.00")  # open position marked at the last price


# ----------------------------------------------------------------------------------------------
# Against quantstats
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def equity_series():
    rng = np.random.default_rng(17)
    values = 100_000 * np.cumprod(1 + rng.normal(0.0006, 0.012, 300))
    days = pd.bdate_range("2025-01-02", periods=300)
    return [
        (day.date(), Decimal(str(round(value, 2)))) for day, value in zip(days, values, strict=True)
    ]


@pytest.fixture
def qs_returns(equity_series):
    index = pd.DatetimeIndex([pd.Timestamp(d) for d, _ in equity_series])
    prices = pd.Series([float(v) for _, v in equity_series], index=index)
    return prices.pct_change().dropna()


def _close(ours, theirs):
    return math.isclose(ours, float(theirs), rel_tol=REL)


def test_it_matches_quantstats_sharpe(equity_series, qs_returns):
    ours = metrics.sharpe_ratio(metrics.daily_returns(equity_series))
    assert _close(ours, qs.stats.sharpe(qs_returns, rf=0.0, periods=252))


def test_it_matches_quantstats_sortino(equity_series, qs_returns):
    ours = metrics.sortino_ratio(metrics.daily_returns(equity_series))
    assert _close(ours, qs.stats.sortino(qs_returns, rf=0.0, periods=252))


def test_it_matches_quantstats_volatility(equity_series, qs_returns):
    ours = metrics.annualised_volatility(metrics.daily_returns(equity_series))
    assert _close(ours, qs.stats.volatility(qs_returns, periods=252))


def test_it_matches_quantstats_cagr(equity_series, qs_returns):
    ours = metrics.cagr(metrics.daily_returns(equity_series))
    assert _close(ours, qs.stats.cagr(qs_returns, rf=0.0, periods=252))


def test_it_matches_quantstats_max_drawdown(equity_series, qs_returns):
    ours = metrics.max_drawdown(equity_series)
    assert ours.depth < 0
    assert _close(ours.depth, qs.stats.max_drawdown(qs_returns))


def test_it_matches_quantstats_calmar(equity_series, qs_returns):
    returns = metrics.daily_returns(equity_series)
    ours = metrics.calmar_ratio(metrics.cagr(returns), metrics.max_drawdown(equity_series))
    theirs = qs.stats.cagr(qs_returns, periods=252) / abs(qs.stats.max_drawdown(qs_returns))
    assert _close(ours, theirs)


def test_it_measures_drawdown_from_the_peak_not_the_initial_balance():
    equity = [
        (date(2026, 1, 1), Decimal("100")),
        (date(2026, 1, 2), Decimal("200")),  # peak
        (date(2026, 1, 3), Decimal("150")),  # trough: -25 % from 200 (but +50 % from 100)
        (date(2026, 1, 4), Decimal("180")),
        (date(2026, 1, 5), Decimal("210")),  # recovered
    ]
    drawdown = metrics.max_drawdown(equity)
    assert drawdown.depth == -0.25
    assert drawdown.amount == Decimal("-50")
    assert drawdown.peak_at == date(2026, 1, 2)
    assert drawdown.trough_at == date(2026, 1, 3)
    assert drawdown.recovered_at == date(2026, 1, 5)


def test_it_rebases_equity_to_100():
    equity = [(date(2026, 1, 1), Decimal("2000")), (date(2026, 1, 2), Decimal("2100"))]
    assert metrics.rebased(equity) == [(date(2026, 1, 1), 100.0), (date(2026, 1, 2), 105.0)]


def test_it_gives_equity_after_each_closed_trade(book):
    equity = metrics.equity_by_trade(Decimal("1000"), book)
    assert [value for _, value in equity][:3] == [
        Decimal("1120.00"),
        Decimal("1080.00"),
        Decimal("1140.00"),
    ]
    assert equity[-1][1] == Decimal("1150.00")
    assert equity[0][0] == datetime(2026, 3, 2, 16, 30, tzinfo=UTC)


def test_it_draws_the_drawdown_from_the_running_peak():
    equity = [(date(2026, 1, d), Decimal(v)) for d, v in [(1, "100"), (2, "120"), (3, "90")]]
    assert list(metrics.drawdown_series(equity)) == [0.0, 0.0, -0.25]


def test_it_gives_no_ratio_without_enough_returns_or_deviation():
    flat = np.array([0.0, 0.0, 0.0])
    assert metrics.sharpe_ratio(np.array([0.01])) is None
    assert metrics.sharpe_ratio(flat) is None
    assert metrics.sortino_ratio(np.array([0.01, 0.02])) is None  # no downside
    assert metrics.calmar_ratio(0.1, metrics.max_drawdown([])) is None


def test_it_builds_the_same_book_from_columns_as_from_trades(book):
    again = metrics.trade_book_from_columns(
        net_units=book.net_units,
        commission_units=book.commission_units,
        slippage_units=book.slippage_units,
        opened_at_us=book.opened_at.astype(np.int64),
        closed_at_us=book.closed_at.astype(np.int64),
        is_long=book.is_long,
        quantity=book.quantity,
        entry_price=book.entry_price,
        symbol=book.symbol,
        close_reason=book.close_reason,
        pipeline_id=book.pipeline_id,
    )
    assert metrics.trade_statistics(again) == metrics.trade_statistics(book)
