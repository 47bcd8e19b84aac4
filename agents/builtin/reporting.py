"""Reporting agent: the reasoning chain per symbol and an executive summary of the whole run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import (
    engine_properties,
    llm_fell_back,
    pick_engine,
    timeframe_sort_key,
    use_rules_after_llm_failure,
)
from agents.context import AgentContext
from agents.registry import register
from agents.state import PipelineState, StateMessage

SUMMARY_KEY = "_summary"
# Indicator values shown in the market snapshot (when the market data agent computed them).
SNAPSHOT_INDICATORS = ("rsi_14", "sma_20", "sma_50", "sma_200", "macd_hist", "atr_14", "vwap")


def _price(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def _messages(messages: list[StateMessage], symbol: str | None) -> list[str]:
    return [m.message for m in messages if m.symbol == symbol]


def _reason(message: str, symbol: str) -> str:
    """A warning about `symbol` without its leading 'AAPL: ' or 'AAPL dropped: ', as a sentence."""
    for prefix in (f"{symbol} dropped: ", f"{symbol}: "):
        message = message.removeprefix(prefix)
    return message if message.endswith(".") else f"{message}."


class _SymbolStory:
    """What happened to one symbol: its reasoning chain, outcome and a one-line summary."""

    def __init__(self, state: PipelineState, symbol: str, *, snapshot: bool, detailed: bool):
        self.state = state
        self.symbol = symbol
        self.snapshot = snapshot
        self.detailed = detailed

    def outcome(self) -> str:
        state, symbol = self.state, self.symbol
        order = state.intended_orders.get(symbol)
        if order is not None and order.outcome == "rejected":
            return "order_rejected"
        if order is not None and symbol not in state.symbols:
            return "order_failed"  # the trade manager drops a symbol whose order failed
        if order is not None and order.outcome == "queued":
            return "order_queued"
        if order is not None:
            return "order_sent" if order.submitted else "order_validated"
        risk = state.risk_approvals.get(symbol)
        if risk is not None:
            return "approved_not_ordered" if risk.approved else "rejected_by_risk"
        if symbol in state.strategy_signals:
            return "planned"
        bias = state.bias_results.get(symbol)
        if bias is not None:
            return "no_trade" if symbol not in state.symbols else "analysed"
        return "data_only"

    def chain(self) -> list[dict[str, Any]]:
        """The symbol's decision chain: one entry per stage that left a record, in run order."""
        steps = (
            self._trigger_step(),
            self._market_step(),
            self._bias_step(),
            self._strategy_step(),
            self._risk_step(),
            self._order_step(),
        )
        return [step for step in steps if step is not None]

    def _trigger_step(self) -> dict[str, Any] | None:
        trigger = self.state.trigger
        if trigger is None:
            return None
        per_symbol = trigger.details.get("symbols", {}).get(self.symbol)
        return {
            "step": "trigger",
            "summary": f"{trigger.agent_type}: {trigger.condition}",
            "data": {
                "condition": trigger.condition,
                "checked_at": trigger.checked_at.isoformat(),
                **({"evaluation": per_symbol} if per_symbol is not None else {}),
            },
        }

    def _market_step(self) -> dict[str, Any] | None:
        market = self.state.market_data.get(self.symbol)
        if market is None or not self.snapshot:
            return None
        frames = {}
        for timeframe in sorted(market.timeframes, key=timeframe_sort_key):
            data = market.timeframes[timeframe]
            frames[timeframe] = {
                "close": data.ohlcv.get("close"),
                **{
                    key: data.indicators[key]
                    for key in SNAPSHOT_INDICATORS
                    if data.indicators.get(key) is not None
                },
            }
        return {
            "step": "market_snapshot",
            "summary": f"{self.symbol} at {market.current_price:.2f} "
            f"(bid {market.bid:.2f} / ask {market.ask:.2f})",
            "data": {
                "price": market.current_price,
                "bid": market.bid,
                "ask": market.ask,
                "volume": market.volume,
                "timestamp": market.timestamp.isoformat(),
                "timeframes": frames,
            },
        }

    def _bias_step(self) -> dict[str, Any] | None:
        bias = self.state.bias_results.get(self.symbol)
        if bias is None:
            return None
        return {
            "step": "bias",
            "summary": f"{bias.bias.value} ({bias.confidence:.0f}% confidence, "
            f"score {bias.bias_score:.2f})",
            "data": bias.model_dump(mode="json", exclude={"symbol"}),
        }

    def _strategy_step(self) -> dict[str, Any] | None:
        signal = self.state.strategy_signals.get(self.symbol)
        if signal is None:
            return None
        return {
            "step": "strategy",
            "summary": f"{signal.action.value} at {signal.entry_price:.2f}, stop "
            f"{signal.stop_loss:.2f}, targets {signal.target_1:.2f} / "
            f"{signal.target_2:.2f} ({signal.risk_reward_ratio:g}R)",
            "data": signal.model_dump(mode="json", exclude={"symbol"}),
        }

    def _risk_step(self) -> dict[str, Any] | None:
        risk = self.state.risk_approvals.get(self.symbol)
        if risk is None:
            return None
        verdict = (
            f"approved {risk.position_size} shares (${risk.position_value:,.2f})"
            if risk.approved
            else f"rejected: {risk.rejection_reason}"
        )
        return {
            "step": "risk",
            "summary": verdict,
            "data": risk.model_dump(mode="json", exclude={"symbol"}),
        }

    def _order_step(self) -> dict[str, Any] | None:
        order = self.state.intended_orders.get(self.symbol)
        if order is None:
            return None
        trades = [
            trade.model_dump(mode="json")
            for trade in self.state.trades
            if trade.symbol == self.symbol
        ]
        return {
            "step": "order",
            "summary": f"{order.side.value} {order.quantity} {order.order_type} "
            f"({order.trading_mode}, {order.outcome_label()})",
            "data": {
                **order.model_dump(mode="json", exclude={"symbol"}),
                "outcome_label": order.outcome_label(),
                "trades": trades,
            },
        }

    def line(self) -> str:
        """The executive-summary line, e.g. 'AAPL: bullish bias (78%), buy 66 @ 150.50, …'."""
        state, symbol = self.state, self.symbol
        parts = []
        bias = state.bias_results.get(symbol)
        if bias is not None:
            parts.append(f"{bias.bias.value} bias ({bias.confidence:.0f}%)")
        signal = state.strategy_signals.get(symbol)
        risk = state.risk_approvals.get(symbol)
        order = state.intended_orders.get(symbol)
        outcome = self.outcome()
        if signal is not None:
            quantity = order.quantity if order else (risk.position_size if risk else None)
            size = f" {quantity}" if quantity else ""
            parts.append(
                f"{signal.action.value}{size} @ {_price(signal.entry_price)}, stop "
                f"{_price(signal.stop_loss)}, targets {_price(signal.target_1)} / "
                f"{_price(signal.target_2)}"
            )
        text = f"{symbol}: " + ", ".join(parts) if parts else f"{symbol}: market data only"
        ending = self._ending(outcome)
        line = f"{text} — {ending}"
        if self.detailed:
            extra = []
            if bias is not None:
                extra.append(bias.reasoning)
            if signal is not None:
                extra.append(signal.level_reasoning.get("stop_loss", ""))
            if risk is not None and risk.adjustments_made:
                extra.append(risk.adjustments_made + ".")
            line = " ".join([line, *[sentence for sentence in extra if sentence]])
        return line

    def _ending(self, outcome: str) -> str:
        state, symbol = self.state, self.symbol
        order = state.intended_orders.get(symbol)
        risk = state.risk_approvals.get(symbol)
        if outcome == "order_validated":
            return "validation only, nothing sent."
        if outcome == "order_sent" and order is not None:
            return f"order {order.outcome_label()} ({order.trading_mode})."
        if outcome == "order_queued" and order is not None:
            return f"order queued for the next open ({order.trading_mode}: the market is closed)."
        if outcome == "order_rejected" and order is not None:
            return f"order rejected ({order.note.removeprefix('Rejected: ')})."
        if outcome == "order_failed" and order is not None:
            return f"order not placed ({order.note})."
        if outcome == "rejected_by_risk" and risk is not None:
            return f"rejected by risk: {risk.rejection_reason}"
        if outcome == "no_trade":
            reasons = _messages(state.warnings, symbol)
            return f"no trade: {_reason(reasons[-1], symbol)}" if reasons else "no trade."
        return {
            "approved_not_ordered": "approved, no order placed.",
            "planned": "planned, not sized.",
            "analysed": "analysed.",
        }.get(outcome, "no analysis.")

    def report(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "outcome": self.outcome(),
            "summary": self.line(),
            "chain": self.chain(),
            "warnings": _messages(self.state.warnings, self.symbol),
            "errors": _messages(self.state.errors, self.symbol),
        }


def _chain_lines(chain: list[dict[str, Any]]) -> list[str]:
    """A symbol's reasoning chain as lines for the reporting crew: each step's summary and,
    where an agent explained itself, its reasoning."""
    lines = []
    for step in chain:
        if step["step"] == "market_snapshot":
            continue  # the numbers that matter are in the bias and strategy reasoning
        line = f"{step['step']}: {step['summary']}"
        reasoning = step["data"].get("reasoning") if isinstance(step["data"], dict) else None
        if reasoning:
            line += f" — {reasoning}"
        lines.append(line)
    return lines


def reported_symbols(state: PipelineState) -> list[str]:
    """Every symbol that reached an analysis step, in the order it first appeared."""
    picked = (state.stock_picker_output or {}).get("symbols_selected") or []
    analysed = [*state.market_data, *state.bias_results]
    ordered = [symbol for symbol in picked if symbol in analysed] + analysed
    return list(dict.fromkeys(ordered))


@register
class ReportingAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="reporting_agent",
        name="Reporting Agent",
        description=(
            "Writes the run's report: for each symbol the chain from trigger to order with the "
            "reasoning at every step, and an executive summary with the warnings and errors."
        ),
        category="reporting",
        icon="description",
        pricing_rate=Decimal("0"),
        is_free=True,
        engines=["rules", "llm"],
        config_schema={
            "type": "object",
            "title": "Reporting agent",
            "description": "What the report contains.",
            "properties": {
                "include_market_snapshot": {
                    "type": "boolean",
                    "title": "Include market snapshot",
                    "description": "Add prices and key indicators per timeframe to each report.",
                    "default": True,
                },
                "summary_style": {
                    "type": "string",
                    "title": "Summary style",
                    "description": "brief: one line per symbol; detailed: with the reasoning.",
                    "enum": ["brief", "detailed"],
                    "default": "brief",
                },
                **engine_properties("writes the summary from templates"),
            },
            "required": [],
            "additionalProperties": False,
        },
    )

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        # Reporting runs even when no symbol is left: the summary says why nothing traded.
        engine = pick_engine(self.config, state, ctx, self.agent_id, self.metadata.name)
        stories = [
            _SymbolStory(
                state,
                symbol,
                snapshot=self.config["include_market_snapshot"],
                detailed=self.config["summary_style"] == "detailed",
            )
            for symbol in reported_symbols(state)
        ]
        for story in stories:
            state.reports[story.symbol] = story.report()
        summary = self._summary(state, ctx, stories, engine)
        if engine == "llm":
            summary = self._llm_summary(state, ctx, stories, summary)
        state.reports[SUMMARY_KEY] = summary
        return state

    def _llm_summary(
        self,
        state: PipelineState,
        ctx: AgentContext,
        stories: list[_SymbolStory],
        summary: dict[str, Any],
    ) -> dict[str, Any]:
        """The reporting crew's executive summary in place of the template one (kept as
        `rules_summary`); the per-symbol chains stay as the rules built them."""
        # Imported here: the LLM engine loads only for steps that use it.
        from agents.llm.client import LLMAnswerRejected, LLMUnavailable, llm_client_for
        from agents.llm.config import llm_settings
        from agents.llm.crews import llm_report_summary

        model = llm_settings().model_for("reporting", self.config.get("model", ""))
        facts = {
            "pipeline": ctx.pipeline.name or "Pipeline",
            "trading_mode": state.trading_mode.lower(),
            "outcome": summary["outcome"].replace("_", " "),
            "stories": [
                {
                    "symbol": story.symbol,
                    "outcome": story.outcome().replace("_", " "),
                    "steps": _chain_lines(story.chain()),
                }
                for story in stories
            ],
            "problems": [
                f"{'error' if kind == 'errors' else 'warning'} ({m.agent_id}): {m.message}"
                for kind in ("errors", "warnings")
                for m in getattr(state, kind)
            ],
        }
        try:
            answer = llm_report_summary(
                llm_client_for(ctx, agent_id=self.agent_id), facts=facts, model=model
            )
        except (LLMAnswerRejected, LLMUnavailable) as error:
            use_rules_after_llm_failure(
                self.config, state, self.agent_id, self.metadata.name, error
            )
            return self._summary(state, ctx, stories, "rules")
        return {
            **summary,
            "summary": answer.summary,
            "headline": answer.headline,
            "key_points": list(answer.key_points),
            "rules_summary": summary["summary"],
            "model": model,
        }

    def _summary(
        self, state: PipelineState, ctx: AgentContext, stories: list[_SymbolStory], engine: str
    ) -> dict[str, Any]:
        outcomes = [story.outcome() for story in stories]
        sent = outcomes.count("order_sent") + outcomes.count("order_queued")
        validated = outcomes.count("order_validated")
        if sent:
            outcome = "orders_sent"
        elif validated:
            outcome = "orders_validated"
        elif stories:
            outcome = "no_trade"
        else:
            outcome = "nothing_analysed"
        orders = sent + validated
        title = f"{ctx.pipeline.name or 'Pipeline'} ({state.trading_mode.lower()}): " + (
            f"{orders} order{'s' if orders != 1 else ''} from {len(stories)} "
            f"symbol{'s' if len(stories) != 1 else ''}"
            if stories
            else "no symbols analysed"
        )
        lines = [story.line() for story in stories]
        if not stories:
            picked = state.stock_picker_output
            if picked is not None and not picked.get("symbols_selected"):
                lines.append("The stock picker selected no symbols.")
            else:
                lines.append("No symbol reached the analysis steps.")
        general_warnings = [m.message for m in state.warnings if m.symbol is None]
        general_errors = [m.message for m in state.errors if m.symbol is None]
        if state.errors or state.warnings:
            lines.append(
                f"{len(state.errors)} error{'s' if len(state.errors) != 1 else ''} and "
                f"{len(state.warnings)} warning{'s' if len(state.warnings) != 1 else ''}."
                + (f" Errors: {'; '.join(general_errors)}." if general_errors else "")
                + (f" Warnings: {'; '.join(general_warnings)}" if general_warnings else "")
            )
        return {
            "title": title,
            "summary": "\n".join(lines),
            "symbols": [story.symbol for story in stories],
            "outcome": outcome,
            "trading_mode": state.trading_mode,
            "orders": orders,
            "errors": [m.model_dump(mode="json") for m in state.errors],
            "warnings": [m.model_dump(mode="json") for m in state.warnings],
            "engine": engine,
            "generated_at": ctx.clock.now().isoformat(),
        }

    def summarize(self, state: PipelineState) -> str:
        summary = state.reports.get(SUMMARY_KEY)
        if summary is None:
            return "No report"
        if llm_fell_back(state, self.agent_id):
            return f"{summary['title']} (rules engine used instead of the LLM)"
        return summary["title"]
