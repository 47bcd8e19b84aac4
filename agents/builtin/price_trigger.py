"""Price trigger: keeps the symbols trading beyond a level or moving by a percentage; else waits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import (
    check_interval_property,
    next_check_time,
    no_symbols,
    run_all,
    timeframe_property,
    trigger_met,
    waiting_reason,
)
from agents.context import AgentContext
from agents.errors import AgentError, TriggerNotMet
from agents.registry import register
from agents.state import PipelineState
from trading import calendar
from trading.marketdata.base import TIMEFRAME_DELTAS, MarketDataError

LEVEL_CONDITIONS = ("above", "below", "crosses_above", "crosses_below")


def _session_day(now: datetime):
    """The session whose move is measured: the one in progress, else the last one closed."""
    return calendar.session_at(now) or calendar.last_closed_session(now)


def _bar_days(bars: pd.DataFrame) -> list:
    return list(bars.index.tz_convert(calendar.NEW_YORK).date)


@register
class PriceTrigger(BaseAgent):
    metadata = AgentMetadata(
        agent_type="price_trigger",
        name="Price Trigger",
        description=(
            "Starts the pipeline when a price is above or below a level, crosses it, or moves a "
            "percentage from the previous close or today's open. Symbols that qualify go on; "
            "when none does, the run waits."
        ),
        category="trigger",
        icon="price_change",
        pricing_rate=Decimal("0.02"),
        is_free=False,
        config_schema={
            "type": "object",
            "title": "Price trigger",
            "description": "A price level or a percentage move that starts the pipeline.",
            "properties": {
                "condition": {
                    "type": "string",
                    "title": "Condition",
                    "description": (
                        "above/below: the last price versus the level; crosses_above/"
                        "crosses_below: the last two closed bars straddle the level; pct_move: "
                        "the move from the reference price."
                    ),
                    "enum": [*LEVEL_CONDITIONS, "pct_move"],
                    "default": "above",
                },
                # No default: a level is only meaningful when the trader sets one.
                "level": {
                    "type": "number",
                    "title": "Price level",
                    "description": "Level for every symbol (unless set per symbol below).",
                    "exclusiveMinimum": 0,
                },
                "levels": {
                    "type": "object",
                    "title": "Levels per symbol",
                    "description": 'Symbol → level, e.g. {"AAPL": 200}; overrides the level above.',
                    "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                    "default": {},
                },
                "pct": {
                    "type": "number",
                    "title": "Move (%)",
                    "description": "pct_move: the size of the move that counts.",
                    "exclusiveMinimum": 0,
                    "maximum": 100,
                    "default": 2.0,
                },
                "direction": {
                    "type": "string",
                    "title": "Direction",
                    "description": "pct_move: up, down, or either way.",
                    "enum": ["up", "down", "either"],
                    "default": "either",
                },
                "reference": {
                    "type": "string",
                    "title": "Measured from",
                    "description": "pct_move: the previous session's close or this session's open.",
                    "enum": ["previous_close", "session_open"],
                    "default": "previous_close",
                },
                "timeframe": timeframe_property(
                    "Bar timeframe",
                    "Bars used for crossings and the session open; also the re-check pace.",
                    "5m",
                ),
                "check_interval_seconds": check_interval_property(
                    0, zero_means="at the close of the next bar"
                ),
            },
            "required": ["condition"],
            # A level condition needs a level: one for every symbol, or some per symbol.
            "if": {
                "properties": {
                    "condition": {"enum": list(LEVEL_CONDITIONS)},
                    "levels": {"maxProperties": 0},
                },
            },
            "then": {
                "required": ["level"],
                "x-message": (
                    "is required for the above/below/crosses conditions (or set levels per symbol)"
                ),
            },
            "additionalProperties": False,
        },
    )

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        now = ctx.clock.now().astimezone(UTC)
        condition = self.config["condition"]
        if condition in LEVEL_CONDITIONS:
            missing = [s for s in state.symbols if self._level(s) is None]
            if missing:
                raise AgentError(
                    f"Price trigger: set a price level (or a level for {', '.join(missing)})."
                )
        evaluations = self._evaluate(state.symbols, ctx, now)
        failed = {s: e["error"] for s, e in evaluations.items() if "error" in e}
        if len(failed) == len(state.symbols):
            raise AgentError(
                "Price trigger: no prices for any symbol ("
                + "; ".join(f"{s}: {error}" for s, error in failed.items())
                + ")."
            )
        description = self._describe()
        kept = [symbol for symbol in state.symbols if evaluations[symbol]["met"]]
        details: dict[str, Any] = {"condition": condition, "symbols": evaluations}
        if not kept:
            next_check_at = next_check_time(
                now, [self.config["timeframe"]], self.config["check_interval_seconds"]
            )
            raise TriggerNotMet(
                waiting_reason(state.symbols, description, next_check_at),
                next_check_at=next_check_at,
                details=details,
            )
        return trigger_met(
            self, state, kept=kept, failed=failed, condition=description, details=details, now=now
        )

    def _level(self, symbol: str) -> float | None:
        return self.config["levels"].get(symbol, self.config.get("level"))

    def _describe(self) -> str:
        config = self.config
        if config["condition"] == "pct_move":
            reference = (
                "the previous close" if config["reference"] == "previous_close" else "the open"
            )
            way = {"up": "up", "down": "down", "either": "up or down"}[config["direction"]]
            return f"price moves {way} {config['pct']:g}% from {reference}"
        level = f"{config['level']:g}" if config.get("level") is not None else "its level"
        if config["levels"]:
            level = "its level"
        return f"price {config['condition'].replace('_', ' ')} {level}"

    def _evaluate(self, symbols: list[str], ctx: AgentContext, now: datetime) -> dict[str, dict]:
        condition = self.config["condition"]
        timeframe = self.config["timeframe"]
        quotes = {}
        if condition != "crosses_above" and condition != "crosses_below":
            try:
                quotes = ctx.market_data.quotes(symbols, at=now)
            except MarketDataError as error:
                return {symbol: {"met": False, "error": str(error)} for symbol in symbols}

        jobs = {}
        if condition in ("crosses_above", "crosses_below"):
            jobs = {
                s: (lambda s=s: ctx.market_data.bars(s, timeframe, end=now, limit=2))
                for s in symbols
            }
        elif condition == "pct_move":
            jobs = {s: (lambda s=s: self._reference_price(ctx, s, now)) for s in symbols}
        fetched = run_all(ctx, jobs) if jobs else {}

        evaluations: dict[str, dict] = {}
        for symbol in symbols:
            result = fetched.get(symbol)
            if isinstance(result, Exception):
                evaluations[symbol] = {"met": False, "error": str(result)}
                continue
            if condition in ("crosses_above", "crosses_below"):
                evaluations[symbol] = self._crossing(symbol, result)
                continue
            quote = quotes.get(symbol)
            if quote is None:
                evaluations[symbol] = {"met": False, "error": "no quote"}
                continue
            if condition == "pct_move":
                evaluations[symbol] = self._move(quote.price, result)
            else:
                level = self._level(symbol)
                met = quote.price > level if condition == "above" else quote.price < level
                evaluations[symbol] = {"met": met, "price": quote.price, "level": level}
        return evaluations

    def _crossing(self, symbol: str, bars: pd.DataFrame) -> dict[str, Any]:
        level = self._level(symbol)
        if len(bars) < 2:
            return {"met": False, "level": level, "note": "fewer than two closed bars"}
        previous_close, last_close = float(bars["close"].iloc[-2]), float(bars["close"].iloc[-1])
        if self.config["condition"] == "crosses_above":
            met = previous_close <= level < last_close
        else:
            met = previous_close >= level > last_close
        return {
            "met": met,
            "level": level,
            "previous_close": previous_close,
            "last_close": last_close,
        }

    def _reference_price(self, ctx: AgentContext, symbol: str, now: datetime) -> float:
        session = _session_day(now)
        if session is None:
            raise ValueError("no session yet")
        if self.config["reference"] == "previous_close":
            daily = ctx.market_data.bars(symbol, "1d", end=now, limit=5)
            earlier = [
                close
                for day, close in zip(_bar_days(daily), daily["close"].tolist(), strict=True)
                if day < session
            ]
            if not earlier:
                raise ValueError("no previous close")
            return float(earlier[-1])
        if calendar.session_at(now) is None:
            daily = ctx.market_data.bars(symbol, "1d", end=now, limit=5)
            opens = [
                price
                for day, price in zip(_bar_days(daily), daily["open"].tolist(), strict=True)
                if day == session
            ]
            if not opens:
                raise ValueError(f"no daily bar for {session}")
            return float(opens[0])
        session_open, _ = calendar.session_open_close(session)
        step = TIMEFRAME_DELTAS[self.config["timeframe"]]
        limit = int((now - session_open) / step) + 2
        bars = ctx.market_data.bars(symbol, self.config["timeframe"], end=now, limit=limit)
        today = bars[bars.index >= session_open]
        if today.empty:
            raise ValueError("no bar of this session has closed yet")
        return float(today["open"].iloc[0])

    def _move(self, price: float, reference: float) -> dict[str, Any]:
        change_pct = (price - reference) / reference * 100
        threshold = self.config["pct"]
        direction = self.config["direction"]
        if direction == "up":
            met = change_pct >= threshold
        elif direction == "down":
            met = change_pct <= -threshold
        else:
            met = abs(change_pct) >= threshold
        return {
            "met": met,
            "price": price,
            "reference_price": reference,
            "change_pct": round(change_pct, 3),
        }

    def summarize(self, state: PipelineState) -> str:
        trigger = state.trigger
        if trigger is None or trigger.agent_id != self.agent_id:
            return "No symbols left to check"
        return f"Met for {', '.join(trigger.details.get('kept', []))}: {trigger.condition}"
