"""Risk manager: sizes each strategy signal from equity, then approves, adjusts or rejects it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin import risk_checks
from agents.builtin.common import money, no_symbols, ratio, to_cents
from agents.builtin.risk_checks import HUNDRED
from agents.context import AgentContext
from agents.errors import AgentError, InsufficientData
from agents.registry import register
from agents.state import PipelineState, RiskCheck, RiskDecision, StrategySignal
from trading.executors.base import PositionSnapshot

SIZING_METHODS = ("risk_based", "equity_fraction", "fixed_quantity")


@register
class RiskManagerAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="risk_manager_agent",
        name="Risk Manager",
        description=(
            "Sizes each trade so a stop-out loses a set share of equity, caps it by position "
            "size, per-symbol exposure and buying power, and rejects trades whose reward does "
            "not justify the risk."
        ),
        category="risk",
        icon="shield",
        pricing_rate=Decimal("0.05"),
        is_free=False,
        config_schema={
            "type": "object",
            "title": "Risk manager",
            "description": "Position sizing and risk limits.",
            "properties": {
                "sizing_method": {
                    "type": "string",
                    "title": "Sizing method",
                    "description": (
                        "risk_based: a stop-out loses the risk per trade; equity_fraction: a "
                        "share of equity (100% is all-in, commission included); fixed_quantity: "
                        "the same number of shares every time. The caps below apply to all."
                    ),
                    "enum": list(SIZING_METHODS),
                    "default": "risk_based",
                },
                "equity_fraction_pct": {
                    "type": "number",
                    "title": "Equity fraction (% of equity)",
                    "description": "equity_fraction sizing: the share of equity one trade uses.",
                    "exclusiveMinimum": 0,
                    "maximum": 100,
                    "default": 10,
                },
                "fixed_quantity": {
                    "type": "integer",
                    "title": "Fixed quantity (shares)",
                    "description": "fixed_quantity sizing: shares per trade.",
                    "minimum": 1,
                    "maximum": 1000000,
                    "default": 100,
                },
                "risk_per_trade_pct": {
                    "type": "number",
                    "title": "Risk per trade (% of equity)",
                    "description": "What a trade may lose if its stop is hit.",
                    "minimum": 0.1,
                    "maximum": 5,
                    "default": 1.0,
                },
                "max_position_pct": {
                    "type": "number",
                    "title": "Max position (% of equity)",
                    "description": "The largest value one new position may have.",
                    "minimum": 1,
                    "maximum": 100,
                    "default": 10,
                },
                "max_symbol_exposure_pct": {
                    "type": "number",
                    "title": "Max exposure per symbol (% of equity)",
                    "description": "Existing position plus the new one, per symbol.",
                    "minimum": 1,
                    "maximum": 100,
                    "default": 20,
                },
                "min_risk_reward": {
                    "type": "number",
                    "title": "Minimum risk/reward",
                    "description": "Reward to target 1 divided by the risk; lower is rejected.",
                    "minimum": 0.5,
                    "maximum": 10,
                    "default": 1.5,
                },
                "respect_buying_power": {
                    "type": "boolean",
                    "title": "Respect buying power",
                    "description": "Never size beyond the account's buying power.",
                    "default": True,
                },
            },
            "required": [],
            "additionalProperties": False,
        },
    )

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        missing = [symbol for symbol in state.symbols if symbol not in state.strategy_signals]
        if len(missing) == len(state.symbols):
            raise InsufficientData(
                "Risk manager needs a strategy signal for each symbol; put a Strategy agent "
                "before it."
            )
        account = ctx.executor.account()
        equity = to_cents(account.equity)
        if equity <= 0:
            raise AgentError(f"Risk manager: account equity is {money(equity)}; nothing to size.")
        positions = {position.symbol: position for position in ctx.executor.positions()}
        # Orders approved earlier in this run use buying power too.
        buying_power_left = to_cents(account.buying_power)
        for symbol in list(state.symbols):
            signal = state.strategy_signals.get(symbol)
            if signal is None:
                state.add_error(self.agent_id, f"{symbol}: no strategy signal to size.", symbol)
                state.drop_symbol(symbol)
                continue
            decision = self._decide(
                signal,
                equity,
                buying_power_left,
                positions.get(symbol),
                ctx.clock.now(),
                costs=risk_checks.commission_of(ctx.executor),
            )
            state.risk_approvals[symbol] = decision
            if decision.approved:
                buying_power_left -= decision.position_value
            else:
                state.drop_symbol(symbol)
        return state

    def _decide(
        self,
        signal: StrategySignal,
        equity: Decimal,
        buying_power: Decimal,
        position: PositionSnapshot | None,
        now,
        costs: dict[str, Decimal] | None = None,
    ) -> RiskDecision:
        """Run the checks in order; the first two reject outright, the caps shrink the size."""
        config = self.config
        base: dict[str, Any] = {
            "symbol": signal.symbol,
            "account_equity": equity,
            "timestamp": now,
        }
        plan = risk_checks.trade_plan(signal)
        if plan is None:
            return self._reject(
                base, [], f"{signal.symbol}: the strategy holds, so there is nothing to size."
            )
        risk_check = risk_checks.check_risk_per_share(plan)
        if not risk_check.passed:
            return self._reject(base, [risk_check], risk_check.detail)
        checks = [risk_check, risk_checks.check_risk_reward(plan, config)]
        sizing = risk_checks.size_from_budget(plan, config, equity, costs)
        risk_checks.cap_max_position(sizing, plan, config, equity)
        risk_checks.cap_symbol_exposure(sizing, plan, config, equity, position)
        if config["respect_buying_power"]:
            risk_checks.cap_buying_power(sizing, plan, buying_power)
        checks += sizing.checks
        minimum_size = risk_checks.check_minimum_size(sizing, plan)
        if minimum_size is not None:
            checks.append(minimum_size)
        return self._conclude(base, plan, sizing, checks)

    def _conclude(
        self,
        base: dict[str, Any],
        plan: risk_checks.TradePlan,
        sizing: risk_checks.Sizing,
        checks: list[RiskCheck],
    ) -> RiskDecision:
        """Approve the sized position when every check passed, else reject with their details."""
        shares, entry, equity = sizing.shares, plan.entry, base["account_equity"]
        position_value = to_cents(shares * entry)
        position_risk = to_cents(shares * plan.risk_per_share)
        sized = {
            **base,
            "position_size": shares,
            "position_value": position_value,
            "position_risk_amount": position_risk,
            "account_risk_pct": float(ratio(position_risk * HUNDRED, equity)),
        }
        failed = [check for check in checks if not check.passed]
        if failed:
            return self._reject(sized, checks, " ".join(check.detail for check in failed))
        adjustments = "; ".join(sizing.adjustments) or None
        risk_reward = ratio(plan.reward_per_share, plan.risk_per_share)
        return RiskDecision(
            **sized,
            approved=True,
            adjusted=bool(sizing.adjustments),
            adjustments_made=adjustments,
            checks=checks,
            reasoning=(
                f"Approved {plan.signal.action.value} {shares} {plan.symbol} at {money(entry)} "
                f"({money(position_value)}), risking {money(position_risk)} "
                f"({sized['account_risk_pct']:g}% of equity) to the stop at "
                f"{money(plan.stop_loss)}; reward to target 1 is {risk_reward}R."
                + (f" {adjustments}." if adjustments else "")
            ),
        )

    @staticmethod
    def _reject(fields: dict[str, Any], checks: list[RiskCheck], reason: str) -> RiskDecision:
        return RiskDecision(
            **{
                **fields,
                "position_size": 0,
                "position_value": Decimal("0"),
                "position_risk_amount": Decimal("0"),
                "account_risk_pct": 0.0,
            },
            approved=False,
            rejection_reason=reason,
            checks=checks,
            reasoning=f"Rejected: {reason}",
        )

    def summarize(self, state: PipelineState) -> str:
        decisions = list(state.risk_approvals.values())
        if not decisions:
            return "No symbols left to size"
        parts = []
        for decision in decisions:
            if decision.approved:
                note = " (adjusted)" if decision.adjusted else ""
                parts.append(
                    f"{decision.symbol}: {decision.position_size} shares, "
                    f"{money(decision.position_value)}{note}"
                )
            else:
                parts.append(f"{decision.symbol}: rejected")
        return "; ".join(parts)
