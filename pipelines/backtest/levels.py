"""A trade's levels and size as the Strategy and Risk Manager set them at the signal bar:
stop and R-multiple targets (swing or ATR stop, or a custom strategy's answer), the minimum
reward-to-risk, and the shares by the sizing method."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from agents.builtin.common import round_price
from agents.builtin.strategy import r_multiple_target
from pipelines.backtest.plan import BacktestPlan
from trading import simulation_rules

if TYPE_CHECKING:
    from pipelines.backtest.engine import Costs, History


def _levels(plan: BacktestPlan, history: History, atr, bar: int, sign: int):
    """(stop, target 1, target 2) as the strategy sets them at the signal bar's close; None when
    the plan has no bracket; False when the strategy or the risk manager would refuse."""
    if plan.stop_method is None:
        return None
    entry = round_price(float(history.close[bar]))
    if plan.stop_method == "atr":
        value = atr[bar]
        if not np.isfinite(value) or value <= 0:
            return False
        stop = round_price(entry - sign * plan.atr_multiplier * value)
    else:
        # The strategy's swing stop: the lowest low (highest high for a short) of the last
        # `swing_lookback` closed bars, the signal bar included.
        start = max(0, bar - plan.swing_lookback + 1)
        window = history.low[start : bar + 1] if sign > 0 else history.high[start : bar + 1]
        stop = round_price(float(window.min() if sign > 0 else window.max()))
        if (entry - stop) * sign <= 0:
            return False
    risk = abs(entry - stop)
    if risk <= 0:
        return False
    target_1 = r_multiple_target(entry, risk, plan.target_1_r, sign)
    target_2 = r_multiple_target(entry, risk, plan.target_2_r, sign)
    if plan.min_risk_reward is not None and not simulation_rules.risk_reward_met(
        Decimal(str(abs(target_1 - entry))).quantize(Decimal("0.01")),
        Decimal(str(risk)).quantize(Decimal("0.01")),
        plan.min_risk_reward,
    ):
        return False
    return stop, target_1, target_2


def _strategy_levels(plan: BacktestPlan, signals, history: History, bar: int):
    """(stop, target 1, target 2) from a custom strategy's answer at `bar`; False when the risk
    manager's minimum reward-to-risk refuses them."""
    stop, target_1, target_2 = (
        float(signals.stop[bar]),
        float(signals.target_1[bar]),
        float(signals.target_2[bar]),
    )
    entry = round_price(float(history.close[bar]))
    if plan.min_risk_reward is not None and not simulation_rules.risk_reward_met(
        Decimal(str(abs(target_1 - entry))).quantize(Decimal("0.01")),
        Decimal(str(abs(entry - stop))).quantize(Decimal("0.01")),
        plan.min_risk_reward,
    ):
        return False
    return stop, target_1, target_2


def _size(plan: BacktestPlan, costs: Costs, equity: float, price: float, stop) -> int:
    """Shares as the risk manager sizes them (one position at a time, so equity is cash)."""
    sizing = plan.sizing
    cost = price + price * costs.commission_pct / 100 + costs.commission_per_share
    affordable = int(equity // cost) if cost > 0 else 0
    if sizing.method == "equity_fraction":
        shares = simulation_rules.equity_fraction_shares(
            equity,
            sizing.equity_fraction_pct,
            price,
            per_share=costs.commission_per_share,
            pct_of_notional=costs.commission_pct,
        )
    elif sizing.method == "fixed_quantity":
        shares = sizing.fixed_quantity
    else:
        risk_per_share = abs(price - stop)
        if risk_per_share <= 0:
            return 0
        shares = int(equity * sizing.risk_per_trade_pct / 100 // risk_per_share)
    if sizing.method != "equity_fraction":
        shares = min(shares, int(equity * sizing.max_position_pct / 100 // price))
    return max(0, min(shares, affordable))
