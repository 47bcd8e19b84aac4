"""SIMULATION's fill and exit rules, written once: the live simulation executor, the position
monitor and the backtester all take their fills and bracket exits from here.

The rules (system design §10.1, backtesting issue):
- a market order fills at the reference price moved against the trader by the slippage;
- commission is per share plus a fraction of the notional (either may be zero);
- bracket exits are judged against each bar's open, high and low. A bar that touches the stop is
  resolved stop-first (when it also touches a target we cannot know which came first, so we
  assume the worse); a bar that opens beyond a level fills at its open (a gap), a stop slipping
  like a market order, a target (a resting limit) at the open or better;
- target 1 then target 2 in order, also inside one bar: target 1 closes its share at target 1,
  and when the same bar reaches target 2 the rest closes at target 2 (resting limits fill in
  price order); after target 1 the stop moves to breakeven when asked, from the next bar on.

Prices are whatever numeric type the caller passes (Decimal in the ledger, float in the
backtester's arrays); the arithmetic is the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

STOP_HIT = "stop_hit"
TARGET_1_HIT = "target_1_hit"
TARGET_2_HIT = "target_2_hit"


def slipped_price(price, *, side: str, slippage_pct):
    """A market fill: buys (and closing a short) pay more, sells (closing a long) get less.

    `side` is the order's side, "buy" or "sell". Decimal prices are rounded to the cent.
    """
    if isinstance(price, Decimal):
        slippage = (price * Decimal(slippage_pct) / 100).quantize(CENT, ROUND_HALF_UP)
        fill = price + slippage if side == "buy" else price - slippage
        return fill.quantize(CENT, ROUND_HALF_UP)
    slippage = price * float(slippage_pct) / 100
    return price + slippage if side == "buy" else price - slippage


def commission_for(quantity, price=None, *, per_share=0, pct_of_notional=0):
    """Commission for `quantity` shares at `price`: per share plus a fraction (%) of notional."""
    if isinstance(per_share, Decimal) or isinstance(pct_of_notional, Decimal):
        total = Decimal(per_share) * quantity
        if pct_of_notional and price is not None:
            total += Decimal(price) * quantity * Decimal(pct_of_notional) / 100
        return total.quantize(CENT, ROUND_HALF_UP)
    total = float(per_share) * quantity
    if pct_of_notional and price is not None:
        total += float(price) * quantity * float(pct_of_notional) / 100
    return total


def equity_fraction_shares(equity, fraction_pct, price, *, per_share=0, pct_of_notional=0) -> int:
    """Whole shares that `fraction_pct` % of `equity` buys at `price` with the commission paid
    out of the same money, so that 100 % of equity is an order the account can afford."""
    if isinstance(equity, Decimal):
        budget = equity * Decimal(str(fraction_pct)) / 100
        cost = Decimal(price) * (1 + Decimal(str(pct_of_notional)) / 100) + Decimal(per_share)
        if cost <= 0 or budget <= 0:
            return 0
        return int((budget / cost).to_integral_value(ROUND_FLOOR))
    budget = float(equity) * float(fraction_pct) / 100
    cost = float(price) + float(price) * float(pct_of_notional) / 100 + float(per_share)
    if cost <= 0 or budget <= 0:
        return 0
    return int(budget // cost)


def risk_reward_met(reward_per_share, risk_per_share, minimum) -> bool:
    """Reward ÷ risk ≥ minimum, compared exactly: 1.496R fails a 1.5R minimum (no rounding
    before the comparison; the rounded ratio is for display only)."""
    if risk_per_share <= 0:
        return False
    return Decimal(str(reward_per_share)) >= Decimal(str(minimum)) * Decimal(str(risk_per_share))


def target_1_split(quantity: int, partial_exit_pct) -> int:
    """Shares target 1 closes of an original `quantity` (it takes the rounding; a split under
    100 % always leaves at least one share for target 2)."""
    pct = Decimal(str(partial_exit_pct))
    at_target_1 = int((Decimal(quantity) * pct / 100).to_integral_value(ROUND_HALF_UP))
    if pct < 100 and quantity > 1 and at_target_1 == quantity:
        at_target_1 = quantity - 1
    return at_target_1


@dataclass
class Bracket:
    """What a bracket needs to judge a bar: the side, shares left, levels and target-1 state."""

    side: str  # "long" | "short"
    quantity: int
    entry_price: object
    stop_loss: object = None
    target_1: object = None
    target_2: object = None
    original_quantity: int = 0
    partial_exit_pct: int = 50
    move_stop_to_breakeven: bool = True
    target_1_hit: bool = False
    slippage_pct: object = 0

    @property
    def long(self) -> bool:
        return self.side == "long"


@dataclass
class BarExit:
    quantity: int
    price: object
    reason: str
    partial: bool = False


@dataclass
class BarOutcome:
    """The exits one bar makes, in order, and the bracket's state after it."""

    exits: list[BarExit] = field(default_factory=list)
    target_1_hit: bool = False
    new_stop: object = None  # the stop from the next bar on, when it moved
    closed: bool = False


def _touches(level, high, low, *, long: bool, stop: bool) -> bool:
    if level is None:
        return False
    if stop:
        return low <= level if long else high >= level
    return high >= level if long else low <= level


def bracket_bar(bracket: Bracket, *, open_, high, low) -> BarOutcome:
    """Apply the bracket's exit rules to one bar. Pure: the caller records the exits."""
    long = bracket.long
    outcome = BarOutcome(target_1_hit=bracket.target_1_hit)
    left = bracket.quantity
    if left <= 0:
        outcome.closed = True
        return outcome
    if _touches(bracket.stop_loss, high, low, long=long, stop=True):
        # A bar opening beyond the stop fills at its open (a gap), else at the stop; a stop
        # becomes a market order and slips against the trader.
        trigger = min(open_, bracket.stop_loss) if long else max(open_, bracket.stop_loss)
        price = slipped_price(
            trigger, side="sell" if long else "buy", slippage_pct=bracket.slippage_pct
        )
        outcome.exits.append(BarExit(left, price, STOP_HIT))
        outcome.closed = True
        return outcome
    if not bracket.target_1_hit and _touches(bracket.target_1, high, low, long=long, stop=False):
        outcome.target_1_hit = True
        original = bracket.original_quantity or bracket.quantity
        partial = min(target_1_split(original, bracket.partial_exit_pct), left)
        if partial:
            # A resting limit: filled at the target, or better when the bar gapped through it.
            price = max(open_, bracket.target_1) if long else min(open_, bracket.target_1)
            outcome.exits.append(BarExit(partial, price, TARGET_1_HIT, partial=True))
            left -= partial
        if left and bracket.move_stop_to_breakeven:
            outcome.new_stop = bracket.entry_price
    if left and _touches(bracket.target_2, high, low, long=long, stop=False):
        # Target 2 after target 1 (the same bar may reach both: the split fills at target 1
        # first, the rest at target 2).
        price = max(open_, bracket.target_2) if long else min(open_, bracket.target_2)
        outcome.exits.append(BarExit(left, price, TARGET_2_HIT))
        left = 0
    outcome.closed = left == 0
    return outcome
