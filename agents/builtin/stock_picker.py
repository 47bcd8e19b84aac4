"""Stock picker: chooses the symbols a run analyses, from a screener, a watchlist or a scanner."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import run_all
from agents.builtin.conditions import condition_schema, parse_condition
from agents.builtin.pipeline_manager import PipelineManagerAgent
from agents.config import FieldError
from agents.context import AgentContext
from agents.errors import AgentError
from agents.registry import register
from agents.state import PipelineState
from trading.conditions import COMPARISONS, bar_values, compute_names
from trading.indicators import is_number, parse_indicator

SORT_METRICS = ("volume", "change_pct", "rsi", "relative_volume")
# Daily bars fetched per symbol: enough for RSI, MACD and 20-day volume; more for long averages.
BASE_LOOKBACK = 60
TICKER_PATTERN = "^[A-Za-z][A-Za-z0-9.\\-]{0,9}$"


def _bound(title: str, description: str) -> dict[str, Any]:
    return {
        "type": ["number", "null"],
        "title": title,
        "description": f"{description} Empty = no limit.",
        "default": None,
    }


def screen_metrics(latest: dict[str, Any], previous: dict[str, Any]) -> dict[str, float | None]:
    """Price, change, volume, average and relative volume, RSI from a symbol's daily values."""
    close, previous_close = latest.get("close"), previous.get("close")
    volume, average_volume = latest.get("volume"), latest.get("avg_volume_20")
    change_pct = (
        (close - previous_close) / previous_close * 100
        if is_number(close) and is_number(previous_close) and previous_close
        else None
    )
    relative_volume = (
        volume / average_volume
        if is_number(volume) and is_number(average_volume) and average_volume
        else None
    )
    rsi = latest.get("rsi_14")
    return {
        "price": close if is_number(close) else None,
        "change_pct": round(change_pct, 3) if change_pct is not None else None,
        "volume": volume if is_number(volume) else None,
        "avg_volume": round(average_volume, 1) if is_number(average_volume) else None,
        "relative_volume": round(relative_volume, 3) if relative_volume is not None else None,
        "rsi": round(rsi, 2) if is_number(rsi) else None,
    }


@register
class StockPickerAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="stock_picker_agent",
        name="Stock Picker",
        description=(
            "Chooses which stocks the pipeline analyses: the top N of a screener over the "
            "market (price, volume, daily change, indicator filters), your watchlist, or a saved "
            "scanner. Later agents run once per symbol, so their cost grows with N."
        ),
        category="data",
        icon="filter_list",
        pricing_rate=Decimal("0"),
        is_free=True,
        config_schema={
            "type": "object",
            "title": "Stock picker",
            "description": "Where the symbols come from and how they are ranked.",
            "properties": {
                "source": {
                    "type": "string",
                    "title": "Source",
                    "description": (
                        "screener: filter and rank the market; watchlist: the tickers below; "
                        "scanner: a saved scanner's tickers."
                    ),
                    "enum": ["screener", "watchlist", "scanner"],
                    "default": "screener",
                },
                "watchlist": {
                    "type": "array",
                    "title": "Watchlist",
                    "description": "watchlist: tickers to analyse, in order.",
                    "items": {"type": "string", "pattern": TICKER_PATTERN},
                    "uniqueItems": True,
                    "maxItems": 200,
                    "default": [],
                },
                "scanner_id": {
                    "type": "string",
                    "title": "Scanner",
                    "description": "scanner: the saved scanner whose tickers are used.",
                    "maxLength": 64,
                    "default": "",
                },
                "screener": {
                    "type": "object",
                    "title": "Screener filters",
                    "description": "screener: what a stock must satisfy on its daily bars.",
                    "properties": {
                        "min_price": _bound("Minimum price", "Last close at least this."),
                        "max_price": _bound("Maximum price", "Last close at most this."),
                        "min_avg_volume": _bound(
                            "Minimum average volume", "20-day average volume at least this."
                        ),
                        "min_change_pct": _bound(
                            "Minimum change (%)", "Last session's change at least this."
                        ),
                        "max_change_pct": _bound(
                            "Maximum change (%)", "Last session's change at most this."
                        ),
                        "indicators": {
                            "type": "array",
                            "title": "Indicator filters",
                            "description": "e.g. rsi_14 < 30, or close > sma_200 on daily bars.",
                            "items": condition_schema(
                                operators=COMPARISONS, with_timeframe=False, shorthand=False
                            ),
                            "maxItems": 10,
                            "default": [],
                        },
                    },
                    "required": [],
                    "additionalProperties": False,
                    "default": {},
                },
                "sort_by": {
                    "type": "string",
                    "title": "Rank by",
                    "description": "screener: the metric the top N are chosen by.",
                    "enum": list(SORT_METRICS),
                    "default": "relative_volume",
                },
                "sort_desc": {
                    "type": "boolean",
                    "title": "Highest first",
                    "description": "Rank from the highest value down.",
                    "default": True,
                },
                "top_n": {
                    "type": "integer",
                    "title": "Top N",
                    "description": "How many symbols to pass on.",
                    "minimum": 1,
                    "maximum": 50,
                    "default": 10,
                },
            },
            "required": [],
            # Conditional rules: the scanner source needs a scanner, the watchlist tickers.
            "allOf": [
                {
                    "if": {"properties": {"source": {"const": "scanner"}}},
                    "then": {
                        "properties": {
                            "scanner_id": {
                                "minLength": 1,
                                "x-message": "is required when the source is a scanner",
                            }
                        }
                    },
                },
                {
                    "if": {"properties": {"source": {"const": "watchlist"}}},
                    "then": {
                        "properties": {
                            "watchlist": {
                                "minItems": 1,
                                "x-message": "needs at least one ticker when the source is a "
                                "watchlist",
                            }
                        }
                    },
                },
            ],
            "additionalProperties": False,
        },
    )

    @classmethod
    def config_rules(cls, config: dict[str, Any]) -> list[FieldError]:
        errors = []
        for index, raw in enumerate(config["screener"].get("indicators", [])):
            try:
                parse_condition(raw, default_timeframe="1d", position=index + 1)
            except AgentError as error:
                errors.append(FieldError(f"screener.indicators.{index}", str(error)))
        return errors

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        source = self.config["source"]
        top_n = self.config["top_n"]
        if source == "screener":
            ranking = self._screen(ctx)
            output: dict[str, Any] = {"screener": self.config["screener"]}
        else:
            tickers = self._listed(ctx)
            ranking = [{"symbol": symbol} for symbol in tickers]
            output = {"scanner_id": self.config["scanner_id"]} if source == "scanner" else {}
        selected = [row["symbol"] for row in ranking[:top_n]]
        state.stock_picker_output = {
            "source": source,
            **output,
            "total_matched": len(ranking),
            "symbols_selected": selected,
            "ranking": ranking[:top_n],
            "sort_by": self.config["sort_by"] if source == "screener" else None,
        }
        if not selected:
            state.symbols = []
            state.add_warning(self.agent_id, self._nothing_matched(source))
            return state
        checked_for = (state.budget or {}).get("symbol_count_checked", len(state.symbols))
        state.symbols = selected
        if ctx.budget is not None and len(selected) > max(1, checked_for):
            # Later agents run once per symbol: check the budget again for the larger run
            # (spec §11.1), with the pipeline manager's own rules.
            PipelineManagerAgent(self.agent_id, {}).process(state, ctx)
            state.budget["symbol_count_checked"] = len(selected)
        return state

    @staticmethod
    def _nothing_matched(source: str) -> str:
        if source == "screener":
            return "Stock picker: no stock matched the screener filters, so nothing is analysed."
        if source == "watchlist":
            return "Stock picker: the watchlist is empty, so nothing is analysed."
        return "Stock picker: the scanner returned no tickers, so nothing is analysed."

    def _listed(self, ctx: AgentContext) -> list[str]:
        if self.config["source"] == "watchlist":
            tickers = self.config["watchlist"]
        else:
            scanner_id = self.config["scanner_id"]
            if not scanner_id:
                raise AgentError(
                    "Stock picker: choose a scanner (scanner_id) for the scanner source."
                )
            if ctx.symbol_source is None:
                raise AgentError(
                    "Stock picker: scanners are not available to this pipeline run; use the "
                    "screener or a watchlist instead."
                )
            tickers = ctx.symbol_source.scanner_tickers(scanner_id)
        unique: dict[str, None] = {}
        for ticker in tickers:
            unique.setdefault(str(ticker).strip().upper(), None)
        return [ticker for ticker in unique if ticker]

    def _screen(self, ctx: AgentContext) -> list[dict[str, Any]]:
        universe = ctx.market_data.universe()
        if not universe:
            raise AgentError(
                "Stock picker: this market data provider has no universe to screen; use a "
                "watchlist or a scanner instead."
            )
        filters = self.config["screener"]
        conditions = [
            parse_condition(raw, default_timeframe="1d", position=index)
            for index, raw in enumerate(filters.get("indicators", []), start=1)
        ]
        keys = {"avg_volume_20", "rsi_14"}
        for condition in conditions:
            keys |= condition.keys
        warmup = max(parse_indicator(name).warmup for name in compute_names(keys))
        limit = max(BASE_LOOKBACK, warmup + 10)
        now = ctx.clock.now().astimezone(UTC)

        def job(symbol: str):
            def fetch():
                bars = ctx.market_data.bars(symbol, "1d", end=now, limit=limit)
                if bars.empty:
                    raise ValueError("no daily bars")
                return bar_values(bars, keys, "1d")

            return fetch

        results = run_all(ctx, {symbol: job(symbol) for symbol in universe})
        rows = []
        for symbol in universe:
            result = results[symbol]
            if isinstance(result, Exception):
                continue  # a screener skips what it cannot read
            latest, previous = result
            metrics = screen_metrics(latest, previous)
            if not self._passes(metrics, filters):
                continue
            if not all(condition.evaluate(latest, previous)["met"] for condition in conditions):
                continue
            rows.append({"symbol": symbol, **metrics})
        sort_by = self.config["sort_by"]
        descending = self.config["sort_desc"]
        with_value = [row for row in rows if row[sort_by] is not None]
        without_value = [row for row in rows if row[sort_by] is None]
        with_value.sort(key=lambda row: row[sort_by], reverse=descending)
        return with_value + without_value

    @staticmethod
    def _passes(metrics: dict[str, float | None], filters: dict[str, Any]) -> bool:
        bounds = (
            ("min_price", "price", 1),
            ("max_price", "price", -1),
            ("min_avg_volume", "avg_volume", 1),
            ("min_change_pct", "change_pct", 1),
            ("max_change_pct", "change_pct", -1),
        )
        for name, metric, sign in bounds:
            limit = filters.get(name)
            if limit is None:
                continue
            value = metrics[metric]
            if value is None or (value - limit) * sign < 0:
                return False
        return True

    def summarize(self, state: PipelineState) -> str:
        output = state.stock_picker_output
        if not output:
            return "No symbols picked"
        selected = output["symbols_selected"]
        if not selected:
            return f"No symbols matched ({output['source']})"
        return (
            f"Picked {len(selected)} of {output['total_matched']} ({output['source']}): "
            f"{', '.join(selected)}"
        )
