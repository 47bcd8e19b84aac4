"""The risk manager's checks, one function each, in the order it runs them on a signal."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from agents.builtin.common import money, ratio, to_cents
from agents.state import RiskCheck, StrategySignal, TradeSide
from trading import simulation_rules
from trading.executors.base import PositionSnapshot

HUNDRED = Decimal("100")


def shares_for(amount: Decimal, price: Decimal) -> int:
    """Whole shares `amount` buys at `price` (never negative)."""
    if amount <= 0 or price <= 0:
        return 0
    return int((amount / price).to_integral_value(rounding=ROUND_FLOOR))


def commission_of(executor) -> dict[str, Decimal]:
    """The executor's commission rates (simulation knows them; brokers report none)."""
    return {
        "per_share": Decimal(str(getattr(executor, "commission_per_share", 0) or 0)),
        "pct_of_notional": Decimal(str(getattr(executor, "commission_pct", 0) or 0)),
    }


def _pct(value: float) -> str:
    return f"{value:g}%"


def _percent_of(equity: Decimal, pct: Any) -> Decimal:
    return to_cents(equity * Decimal(str(pct)) / HUNDRED)


def exposure_of(position: PositionSnapshot | None) -> Decimal:
    """The value already held in the symbol (market value, else quantity × average price)."""
    if position is None:
        return Decimal("0")
    if position.market_value:
        return abs(Decimal(position.market_value))
    return abs(Decimal(position.quantity) * Decimal(position.average_price))


@dataclass(frozen=True)
class TradePlan:
    """One signal's prices in cents, with its risk and reward a share on the signal's side."""

    signal: StrategySignal
    entry: Decimal
    stop_loss: Decimal
    target_1: Decimal
    risk_per_share: Decimal
    reward_per_share: Decimal

    @property
    def symbol(self) -> str:
        return self.signal.symbol


def trade_plan(signal: StrategySignal) -> TradePlan | None:
    """The signal's plan, or None when the strategy holds (nothing to size)."""
    entry = to_cents(signal.entry_price)
    stop_loss = to_cents(signal.stop_loss)
    target_1 = to_cents(signal.target_1)
    if signal.action == TradeSide.BUY:
        risk_per_share, reward_per_share = entry - stop_loss, target_1 - entry
    elif signal.action == TradeSide.SELL:
        risk_per_share, reward_per_share = stop_loss - entry, entry - target_1
    else:
        return None
    return TradePlan(signal, entry, stop_loss, target_1, risk_per_share, reward_per_share)


def check_risk_per_share(plan: TradePlan) -> RiskCheck:
    """The stop lies on the losing side of a positive entry."""
    if plan.risk_per_share <= 0 or plan.entry <= 0:
        side = "below" if plan.signal.action == TradeSide.BUY else "above"
        detail = (
            f"Risk per share is {money(plan.risk_per_share)}: a {plan.signal.action.value} at "
            f"{money(plan.entry)} needs its stop loss {side} the entry "
            f"(stop {money(plan.stop_loss)})."
        )
        return RiskCheck(name="risk_per_share", passed=False, detail=detail)
    detail = (
        f"Entry {money(plan.entry)}, stop {money(plan.stop_loss)}: "
        f"{money(plan.risk_per_share)} a share."
    )
    return RiskCheck(name="risk_per_share", passed=True, detail=detail)


def check_risk_reward(plan: TradePlan, config: dict) -> RiskCheck:
    """Reward to target 1 over the risk reaches the configured minimum."""
    min_risk_reward = Decimal(str(config["min_risk_reward"]))
    return RiskCheck(
        name="risk_reward",
        # Compared unrounded: a 1.496R trade fails a 1.5R minimum although it reads 1.50R.
        passed=simulation_rules.risk_reward_met(
            plan.reward_per_share, plan.risk_per_share, min_risk_reward
        ),
        detail=(
            f"Reward to target 1 ({money(plan.target_1)}) is "
            f"{ratio(plan.reward_per_share, plan.risk_per_share)}R; "
            f"the minimum is {min_risk_reward}R."
        ),
    )


@dataclass
class Sizing:
    """The running state of one symbol's sizing: shares so far, checks and adjustments made."""

    shares: int
    method: str
    risk_budget: Decimal
    detail: str
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


def size_from_budget(
    plan: TradePlan, config: dict, equity: Decimal, costs: dict[str, Decimal] | None
) -> Sizing:
    """The first size by the configured method, recorded as the `risk_budget` check."""
    risk_budget = _percent_of(equity, config["risk_per_trade_pct"])
    method = config.get("sizing_method", "risk_based")
    if method == "equity_fraction":
        costs = costs or {}
        fraction = config["equity_fraction_pct"]
        shares = simulation_rules.equity_fraction_shares(
            equity,
            fraction,
            plan.entry,
            per_share=costs.get("per_share", Decimal("0")),
            pct_of_notional=costs.get("pct_of_notional", Decimal("0")),
        )
        detail = (
            f"{_pct(fraction)} of {money(equity)} buys {shares} shares at "
            f"{money(plan.entry)}, commission included."
        )
    elif method == "fixed_quantity":
        shares = int(config["fixed_quantity"])
        detail = f"Fixed size: {shares} shares."
    else:
        shares = shares_for(risk_budget, plan.risk_per_share)
        detail = (
            f"{_pct(config['risk_per_trade_pct'])} of {money(equity)} is "
            f"{money(risk_budget)} at risk: {shares} shares at "
            f"{money(plan.risk_per_share)} a share."
        )
    sizing = Sizing(shares=shares, method=method, risk_budget=risk_budget, detail=detail)
    sizing.checks.append(RiskCheck(name="risk_budget", passed=True, detail=detail))
    return sizing


def cap_max_position(sizing: Sizing, plan: TradePlan, config: dict, equity: Decimal) -> None:
    """The new position's value stays within the max position share of equity."""
    limit_pct = _pct(config["max_position_pct"])
    max_position_value = _percent_of(equity, config["max_position_pct"])
    sizing.cap(
        "max_position",
        shares_for(max_position_value, plan.entry),
        why=(f"so the position stays within {limit_pct} of equity ({money(max_position_value)})"),
        ok_detail=f"Position value within {limit_pct} of equity ({money(max_position_value)}).",
    )


def cap_symbol_exposure(
    sizing: Sizing,
    plan: TradePlan,
    config: dict,
    equity: Decimal,
    position: PositionSnapshot | None,
) -> None:
    """What is already held in the symbol plus the new position stays within its limit."""
    symbol, entry = plan.symbol, plan.entry
    limit_pct = _pct(config["max_symbol_exposure_pct"])
    exposure_limit = _percent_of(equity, config["max_symbol_exposure_pct"])
    existing = to_cents(exposure_of(position))
    exposure_room = exposure_limit - existing
    held = f"{money(existing)} already held" if existing else "nothing held yet"
    sizing.cap(
        "symbol_exposure",
        shares_for(exposure_room, entry),
        why=(
            f"to keep {symbol} within {limit_pct} of equity ({money(exposure_limit)}; {held})"
            if exposure_room >= entry
            else f"{symbol} exposure is at its {limit_pct} limit ({money(exposure_limit)}; {held})."
        ),
        ok_detail=(
            f"{symbol} exposure within {limit_pct} of equity ({money(exposure_limit)}; {held})."
        ),
    )


def cap_buying_power(sizing: Sizing, plan: TradePlan, buying_power: Decimal) -> None:
    """The position fits the buying power this run has left."""
    entry = plan.entry
    sizing.cap(
        "buying_power",
        shares_for(buying_power, entry),
        why=(
            f"to fit the buying power left ({money(buying_power)})"
            if buying_power >= entry
            else f"Buying power {money(buying_power)} does not cover one share at {money(entry)}."
        ),
        ok_detail=f"Buying power {money(buying_power)} covers the position.",
    )


def check_minimum_size(sizing: Sizing, plan: TradePlan) -> RiskCheck | None:
    """At least one share is left; None when a cap already failed (its check says why)."""
    if sizing.shares >= 1:
        return RiskCheck(name="minimum_size", passed=True, detail=f"{sizing.shares} shares.")
    if not all(check.passed for check in sizing.checks):
        return None
    return RiskCheck(
        name="minimum_size",
        passed=False,
        detail=(
            f"{money(sizing.risk_budget)} at risk does not cover one share at "
            f"{money(plan.risk_per_share)} of risk."
            if sizing.method == "risk_based"
            else f"{sizing.detail} That is not one share."
        ),
    )
