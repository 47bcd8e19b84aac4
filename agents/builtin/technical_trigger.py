"""Technical trigger: keeps the symbols whose indicator conditions hold; waits when none does."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import (
    check_interval_property,
    next_check_time,
    no_symbols,
    run_all,
    trigger_met,
    waiting_reason,
)
from agents.builtin.conditions import condition_schema, parse_condition
from agents.config import FieldError
from agents.context import AgentContext
from agents.errors import AgentError, TriggerNotMet
from agents.registry import register
from agents.state import PipelineState
from trading.conditions import OPERATORS, Condition, bar_values


@register
class TechnicalTrigger(BaseAgent):
    metadata = AgentMetadata(
        agent_type="technical_trigger",
        name="Technical Trigger",
        description=(
            "Starts the pipeline when indicator conditions hold, e.g. RSI above 70 or a MACD "
            "bullish crossover. Symbols that meet them go on; the others are dropped. When none "
            "does, the run waits for the next bar."
        ),
        category="trigger",
        icon="show_chart",
        pricing_rate=Decimal("0.03"),
        is_free=False,
        config_schema={
            "type": "object",
            "title": "Technical trigger",
            "description": "Indicator conditions that start the pipeline.",
            "properties": {
                "conditions": {
                    "type": "array",
                    "title": "Conditions",
                    "description": "What must hold, evaluated on each symbol's closed bars.",
                    "items": condition_schema(
                        operators=OPERATORS, with_timeframe=True, shorthand=True
                    ),
                    "minItems": 1,
                    "maxItems": 10,
                },
                "logic": {
                    "type": "string",
                    "title": "Combine conditions with",
                    "description": "AND: all must hold; OR: any one is enough.",
                    "enum": ["AND", "OR"],
                    "default": "AND",
                },
                "lookback_bars": {
                    "type": "integer",
                    "title": "Bars fetched",
                    "description": "History per timeframe; long averages (SMA 200) need 200+.",
                    "minimum": 30,
                    "maximum": 1000,
                    "default": 250,
                },
                "check_interval_seconds": check_interval_property(
                    0, zero_means="at the close of the next bar"
                ),
            },
            "required": ["conditions"],
            "additionalProperties": False,
        },
    )

    @classmethod
    def config_rules(cls, config: dict[str, Any]) -> list[FieldError]:
        errors = []
        for index, raw in enumerate(config["conditions"]):
            try:
                parse_condition(raw, default_timeframe="5m", position=index + 1)
            except AgentError as error:
                errors.append(FieldError(f"conditions.{index}", str(error)))
        return errors

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        now = ctx.clock.now().astimezone(UTC)
        conditions = [
            parse_condition(raw, default_timeframe="5m", position=index)
            for index, raw in enumerate(self.config["conditions"], start=1)
        ]
        logic = self.config["logic"]
        combined = f" {logic} ".join(condition.describe() for condition in conditions)
        evaluations = self._evaluate(state.symbols, conditions, ctx, now)
        failed = {s: e["error"] for s, e in evaluations.items() if "error" in e}
        if len(failed) == len(state.symbols):
            raise AgentError(
                "Technical trigger: no bars for any symbol ("
                + "; ".join(f"{s}: {error}" for s, error in failed.items())
                + ")."
            )
        kept = [symbol for symbol in state.symbols if evaluations[symbol]["met"]]
        details: dict[str, Any] = {"logic": logic, "symbols": evaluations}
        if not kept:
            # The state is saved while the run waits: leave it untouched until the trigger holds.
            next_check_at = next_check_time(
                now,
                [condition.timeframe for condition in conditions],
                self.config["check_interval_seconds"],
            )
            raise TriggerNotMet(
                waiting_reason(state.symbols, combined, next_check_at),
                next_check_at=next_check_at,
                details=details,
            )
        return trigger_met(
            self, state, kept=kept, failed=failed, condition=combined, details=details, now=now
        )

    def _evaluate(
        self, symbols: list[str], conditions: list[Condition], ctx: AgentContext, now
    ) -> dict[str, dict[str, Any]]:
        keys_by_timeframe: dict[str, set[str]] = {}
        for condition in conditions:
            keys_by_timeframe.setdefault(condition.timeframe, set()).update(condition.keys)
        limit = self.config["lookback_bars"]

        def job(symbol: str, timeframe: str):
            def fetch():
                bars = ctx.market_data.bars(symbol, timeframe, end=now, limit=limit)
                if bars.empty:
                    raise ValueError(f"no closed {timeframe} bars")
                return bar_values(bars, keys_by_timeframe[timeframe], timeframe)

            return fetch

        results = run_all(
            ctx,
            {(s, tf): job(s, tf) for s in symbols for tf in keys_by_timeframe},
        )
        evaluations: dict[str, dict[str, Any]] = {}
        combine = all if self.config["logic"] == "AND" else any
        for symbol in symbols:
            errors = [
                f"{tf}: {result}"
                for (s, tf), result in results.items()
                if s == symbol and isinstance(result, Exception)
            ]
            if errors:
                evaluations[symbol] = {"met": False, "error": "; ".join(errors)}
                continue
            checks = []
            for condition in conditions:
                latest, previous = results[(symbol, condition.timeframe)]
                checks.append(condition.evaluate(latest, previous))
            evaluations[symbol] = {
                "met": combine(check["met"] for check in checks),
                "conditions": checks,
            }
        return evaluations

    def summarize(self, state: PipelineState) -> str:
        trigger = state.trigger
        if trigger is None or trigger.agent_id != self.agent_id:
            return "No symbols left to check"
        kept = trigger.details.get("kept", [])
        return f"Met for {', '.join(kept)}: {trigger.condition}"
