"""Stock picker: the top N of a screener, a watchlist or a scanner become the run's symbols."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from agents.context import BudgetStatus, budget_refusal
from agents.errors import AgentError, BudgetExceeded
from agents.registry import validate_node_config
from agents.tests.factories import build_agent, make_context, make_state
from agents.tests.providers import ScenarioProvider, bars_frame, downtrend, flat, rsi_dip, uptrend

LAST_SESSION = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def daily(closes, volume=1_000_000.0):
    return {"1d": bars_frame(closes, last_open=LAST_SESSION, timeframe="1d", volume=volume)}


def market() -> ScenarioProvider:
    spike = np.full(300, 1_000_000.0)
    spike[-1] = 3_000_000.0
    return ScenarioProvider(
        {
            "UP": daily(uptrend()),
            "DOWN": daily(downtrend()),
            "DIP": daily(rsi_dip()),
            "HOT": daily(uptrend(start=50.0), volume=spike),
            "PENNY": daily(flat(level=3.0)),
        }
    )


def pick(config, *, provider=None, symbol_source=None, budget=None, symbols=None):
    agent = build_agent("stock_picker_agent", config)
    context = make_context(
        market_data=provider or market(), symbol_source=symbol_source, budget=budget
    )
    return agent.process(make_state(symbols or []), context), agent


def test_the_screener_ranks_by_relative_volume_by_default():
    state, agent = pick({"top_n": 2})

    assert state.symbols == ["HOT", "UP"]
    output = state.stock_picker_output
    assert output["source"] == "screener"
    assert output["total_matched"] == 5
    assert output["symbols_selected"] == ["HOT", "UP"]
    hot = output["ranking"][0]
    assert hot["symbol"] == "HOT"
    assert hot["relative_volume"] == pytest.approx(3 / 1.1, abs=0.001)
    assert hot["volume"] == 3_000_000.0
    assert set(hot) == {
        "symbol", "price", "change_pct", "volume", "avg_volume", "relative_volume", "rsi",
    }  # fmt: skip
    assert agent.summarize(state) == "Picked 2 of 5 (screener): HOT, UP"


def test_price_and_change_filters_narrow_the_field():
    state, _ = pick({"screener": {"min_price": 5, "max_change_pct": 0}, "sort_by": "change_pct"})

    # PENNY trades near $3; UP and HOT rose on the last day.
    assert state.symbols == ["DOWN", "DIP"]


def test_an_indicator_filter_finds_the_oversold_stocks():
    oversold = {"indicators": [{"indicator": "RSI", "operator": "<", "value": 30}]}

    state, _ = pick({"screener": oversold, "sort_by": "rsi", "sort_desc": False})

    assert state.symbols == ["DIP", "DOWN"]
    assert [row["rsi"] < 30 for row in state.stock_picker_output["ranking"]] == [True, True]


def test_it_can_rank_lowest_first():
    state, _ = pick({"sort_by": "rsi", "sort_desc": False, "top_n": 1})

    assert state.symbols == ["DIP"]


def test_no_match_leaves_no_symbols_and_a_warning():
    state, agent = pick({"screener": {"min_price": 10_000}}, symbols=["AAPL"])

    assert state.symbols == []
    assert state.stock_picker_output["total_matched"] == 0
    assert state.warnings[0].message == (
        "Stock picker: no stock matched the screener filters, so nothing is analysed."
    )
    assert agent.summarize(state) == "No symbols matched (screener)"


def test_a_watchlist_is_taken_in_order_up_to_top_n():
    state, _ = pick({"source": "watchlist", "watchlist": ["msft", "AAPL", "NVDA"], "top_n": 2})

    assert state.symbols == ["MSFT", "AAPL"]
    assert state.stock_picker_output["total_matched"] == 3


class Scanners:
    def scanner_tickers(self, scanner_id: str) -> list[str]:
        return {"gappers": ["TSLA", "AMD", "TSLA"]}.get(scanner_id, [])


def test_a_scanner_supplies_its_tickers():
    state, _ = pick({"source": "scanner", "scanner_id": "gappers"}, symbol_source=Scanners())

    assert state.symbols == ["TSLA", "AMD"]
    assert state.stock_picker_output["scanner_id"] == "gappers"


def test_a_scanner_needs_a_source_of_scanners():
    with pytest.raises(AgentError, match="scanners are not available"):
        pick({"source": "scanner", "scanner_id": "gappers"}, symbol_source=None)


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"source": "scanner"}, "scanner_id", "is required when the source is a scanner"),
        ({"source": "watchlist"}, "watchlist", "needs at least one ticker"),
        (
            {"screener": {"indicators": [{"indicator": "STOCH", "operator": ">", "value": 1}]}},
            "screener.indicators.0",
            "Unknown indicator 'STOCH'",
        ),
    ],
)
def test_its_conditional_settings_are_refused_when_the_graph_is_checked(config, field, message):
    _, errors = validate_node_config("stock_picker_agent", config)
    assert [e.field for e in errors] == [field]
    assert message in errors[0].message


def test_a_screener_needs_a_universe():
    with pytest.raises(AgentError, match="no universe to screen"):
        pick({}, provider=ScenarioProvider({}, universe=[]))


class DailyBudget:
    """A budget gate with $1.00 a day left and $0.40 estimated per symbol."""

    def status(self) -> BudgetStatus:
        return BudgetStatus(
            user_daily_limit=Decimal("1.00"),
            user_monthly_limit=None,
            pipeline_daily_limit=None,
            spent_today=Decimal("0"),
            spent_this_month=Decimal("0"),
            pipeline_spent_today=Decimal("0"),
        )

    def estimate_execution_cost(self, *, symbol_count: int = 1) -> Decimal:
        return Decimal("0.40") * symbol_count

    def reserve(self, *, estimate: Decimal) -> BudgetStatus:
        refusal = budget_refusal(self.status(), estimate)
        if refusal:
            raise BudgetExceeded(refusal)
        return self.status()


def test_picking_more_symbols_checks_the_budget_again():
    ok, _ = pick({"top_n": 2}, budget=DailyBudget())
    with pytest.raises(BudgetExceeded, match=r"your daily budget is \$1\.00"):
        pick({"top_n": 3}, budget=DailyBudget())

    assert ok.budget["estimated_cost"] == "0.80"
    assert ok.budget["symbol_count_checked"] == 2


def test_its_schema_fills_defaults():
    config, errors = validate_node_config("stock_picker_agent", {})
    _, bad = validate_node_config(
        "stock_picker_agent", {"top_n": 51, "watchlist": ["not a ticker"]}
    )

    assert errors == []
    assert config == {
        "source": "screener",
        "watchlist": [],
        "scanner_id": "",
        "screener": {
            "min_price": None,
            "max_price": None,
            "min_avg_volume": None,
            "min_change_pct": None,
            "max_change_pct": None,
            "indicators": [],
        },
        "sort_by": "relative_volume",
        "sort_desc": True,
        "top_n": 10,
    }
    assert {error.field for error in bad} == {"top_n", "watchlist.0"}
