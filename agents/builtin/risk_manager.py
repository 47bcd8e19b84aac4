"""Risk manager: sizes each strategy signal from equity, then approves, adjusts or rejects it."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import money, no_symbols, ratio, to_cents
from agents.context import AgentContext
from agents.errors import AgentError, InsufficientData
from agents.registry import register
from agents.state import PipelineState, RiskCheck, RiskDecision, StrategySignal, TradeSide
from trading import simulation_rules
from trading.executors.base import PositionSnapshot

HUNDRED = Decimal("100")
SIZING_METHODS = ("risk_based", "equity_fraction", "fixed_quantity")


def _shares(amount: Decimal, price: Decimal) -> int:
    """Whole shares `amount` buys at `price` (never negative)."""
    if amount <= 0 or price <= 0:
        return 0
    return int((amount / price).to_integral_value(rounding=ROUND_FLOOR))


def _commission_of(executor) -> dict[str, Decimal]:
    """The executor's commission rates (simulation knows them; brokers report none)."""
    return {
        "per_share": Decimal(str(getattr(executor, "commission_per_share", 0) or 0)),
        "pct_of_notional": Decimal(str(getattr(executor, "commission_pct", 0) or 0)),
    }


def _pct(value: float) -> str:
    return f"{value:g}%"


def _exposure(position: PositionSnapshot | None) -> Decimal:
    if position is None:
        return Decimal("0")
    if position.market_value:
        return abs(Decimal(position.market_value))
    return abs(Decimal(position.quantity) * Decimal(position.average_price))


@dataclass
class _Sizing:
    """The running state of one symbol's sizing: shares so far, checks and adjustments made."""

    shares: int
    checks: list[RiskCheck] = field(default_factory=list)
    adjustments: list[str] = field(default_factory=list)

    def cap(self, name: str, limit: int, *, why: str, ok_detail: str) -> None:
        """Apply a cap of `limit` shares; record the check, and the adjustment when it bites."""
        if self.shares <= limit:
            self.checks.append(RiskCheck(name=name, passed=True, detail=ok_detail))
            return
        if limit < 1:
            self.checks.append(RiskCheck(name=name, passed=False, detail=why))
        else:
            detail = f"Reduced from {self.shares} to {limit} shares {why}"
            self.adjustments.append(detail)
            self.checks.append(RiskCheck(name=name, passed=True, detail=detail))
        self.shares = max(limit, 0)


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
                costs=_commission_of(ctx.executor),
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
        config = self.config
        symbol = signal.symbol
        entry = to_cents(signal.entry_price)
        stop_loss = to_cents(signal.stop_loss)
        target_1 = to_cents(signal.target_1)
        risk_pct = Decimal(str(config["risk_per_trade_pct"]))
        base: dict[str, Any] = {
            "symbol": symbol,
            "account_equity": equity,
            "timestamp": now,
        }

        if signal.action == TradeSide.BUY:
            risk_per_share, reward_per_share = entry - stop_loss, target_1 - entry
        elif signal.action == TradeSide.SELL:
            risk_per_share, reward_per_share = stop_loss - entry, entry - target_1
        else:
            return self._reject(
                base, [], f"{symbol}: the strategy holds, so there is nothing to size."
            )
        if risk_per_share <= 0 or entry <= 0:
            side = "below" if signal.action == TradeSide.BUY else "above"
            detail = (
                f"Risk per share is {money(risk_per_share)}: a {signal.action.value} at "
                f"{money(entry)} needs its stop loss {side} the entry (stop {money(stop_loss)})."
            )
            check = RiskCheck(name="risk_per_share", passed=False, detail=detail)
            return self._reject(base, [check], detail)

        checks = [
            RiskCheck(
                name="risk_per_share",
                passed=True,
                detail=(
                    f"Entry {money(entry)}, stop {money(stop_loss)}: "
                    f"{money(risk_per_share)} a share."
                ),
            )
        ]
        risk_reward = ratio(reward_per_share, risk_per_share)
        min_risk_reward = Decimal(str(config["min_risk_reward"]))
        checks.append(
            RiskCheck(
                name="risk_reward",
                # Compared unrounded: a 1.496R trade fails a 1.5R minimum although it reads 1.50R.
                passed=simulation_rules.risk_reward_met(
                    reward_per_share, risk_per_share, min_risk_reward
                ),
                detail=(
                    f"Reward to target 1 ({money(target_1)}) is {risk_reward}R; "
                    f"the minimum is {min_risk_reward}R."
                ),
            )
        )

        risk_budget = to_cents(equity * risk_pct / HUNDRED)
        method = config.get("sizing_method", "risk_based")
        if method == "equity_fraction":
            costs = costs or {}
            fraction = config["equity_fraction_pct"]
            sizing = _Sizing(
                shares=simulation_rules.equity_fraction_shares(
                    equity,
                    fraction,
                    entry,
                    per_share=costs.get("per_share", Decimal("0")),
                    pct_of_notional=costs.get("pct_of_notional", Decimal("0")),
                )
            )
            sizing_detail = (
                f"{_pct(fraction)} of {money(equity)} buys {sizing.shares} shares at "
                f"{money(entry)}, commission included."
            )
        elif method == "fixed_quantity":
            sizing = _Sizing(shares=int(config["fixed_quantity"]))
            sizing_detail = f"Fixed size: {sizing.shares} shares."
        else:
            sizing = _Sizing(shares=_shares(risk_budget, risk_per_share))
            sizing_detail = (
                f"{_pct(config['risk_per_trade_pct'])} of {money(equity)} is "
                f"{money(risk_budget)} at risk: {sizing.shares} shares at "
                f"{money(risk_per_share)} a share."
            )
        sizing.checks.append(RiskCheck(name="risk_budget", passed=True, detail=sizing_detail))

        max_position_pct = Decimal(str(config["max_position_pct"]))
        max_position_value = to_cents(equity * max_position_pct / HUNDRED)
        sizing.cap(
            "max_position",
            _shares(max_position_value, entry),
            why=(
                f"so the position stays within {_pct(config['max_position_pct'])} of equity "
                f"({money(max_position_value)})"
            ),
            ok_detail=(
                f"Position value within {_pct(config['max_position_pct'])} of equity "
                f"({money(max_position_value)})."
            ),
        )

        exposure_pct = Decimal(str(config["max_symbol_exposure_pct"]))
        exposure_limit = to_cents(equity * exposure_pct / HUNDRED)
        existing = to_cents(_exposure(position))
        exposure_room = exposure_limit - existing
        held = f"{money(existing)} already held" if existing else "nothing held yet"
        sizing.cap(
            "symbol_exposure",
            _shares(exposure_room, entry),
            why=(
                f"to keep {symbol} within {_pct(config['max_symbol_exposure_pct'])} of equity "
                f"({money(exposure_limit)}; {held})"
                if exposure_room >= entry
                else f"{symbol} exposure is at its {_pct(config['max_symbol_exposure_pct'])} "
                f"limit ({money(exposure_limit)}; {held})."
            ),
            ok_detail=(
                f"{symbol} exposure within {_pct(config['max_symbol_exposure_pct'])} of equity "
                f"({money(exposure_limit)}; {held})."
            ),
        )

        if config["respect_buying_power"]:
            sizing.cap(
                "buying_power",
                _shares(buying_power, entry),
                why=(
                    f"to fit the buying power left ({money(buying_power)})"
                    if buying_power >= entry
                    else f"Buying power {money(buying_power)} does not cover one share at "
                    f"{money(entry)}."
                ),
                ok_detail=f"Buying power {money(buying_power)} covers the position.",
            )

        shares = sizing.shares
        position_value = to_cents(shares * entry)
        position_risk = to_cents(shares * risk_per_share)
        checks += sizing.checks
        if shares < 1 and all(check.passed for check in sizing.checks):
            checks.append(
                RiskCheck(
                    name="minimum_size",
                    passed=False,
                    detail=(
                        f"{money(risk_budget)} at risk does not cover one share at "
                        f"{money(risk_per_share)} of risk."
                        if method == "risk_based"
                        else f"{sizing_detail} That is not one share."
                    ),
                )
            )
        elif shares >= 1:
            checks.append(RiskCheck(name="minimum_size", passed=True, detail=f"{shares} shares."))

        failed = [check for check in checks if not check.passed]
        sized = {
            **base,
            "position_size": shares,
            "position_value": position_value,
            "position_risk_amount": position_risk,
            "account_risk_pct": float(ratio(position_risk * HUNDRED, equity)),
        }
        if failed:
            return self._reject(sized, checks, " ".join(check.detail for check in failed))
        adjustments = "; ".join(sizing.adjustments) or None
        return RiskDecision(
            **sized,
            approved=True,
            adjusted=bool(sizing.adjustments),
            adjustments_made=adjustments,
            checks=checks,
            reasoning=(
                f"Approved {signal.action.value} {shares} {symbol} at {money(entry)} "
                f"({money(position_value)}), risking {money(position_risk)} "
                f"({sized['account_risk_pct']:g}% of equity) to the stop at {money(stop_loss)}; "
                f"reward to target 1 is {risk_reward}R."
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
