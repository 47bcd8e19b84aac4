"""Money as a trader reads it, written once: −$19.96, +$12.30, "< $0.01", $0.0004.

The template filters (`analytics/templatetags/tradecrew.py`), flash messages, reports and
notifications all format through these functions, so a figure reads the same everywhere."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")
MINUS = "−"  # a real minus sign lines up with the digits
UNKNOWN = "—"


def as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _grouped(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, ROUND_HALF_UP):,.2f}"


def money(value) -> str:
    """$1,234.56; −$12.30 below zero; — when unknown."""
    amount = as_decimal(value)
    if amount is None:
        return UNKNOWN
    text = _grouped(abs(amount))
    return f"{MINUS}${text}" if amount.quantize(CENT, ROUND_HALF_UP) < 0 else f"${text}"


def signed_money(value) -> str:
    """+$12.30 / −$12.30 / $0.00: a P&L with its sign."""
    amount = as_decimal(value)
    if amount is None:
        return UNKNOWN
    rounded = amount.quantize(CENT, ROUND_HALF_UP)
    if rounded == 0:
        return "$0.00"
    return f"{'+' if rounded > 0 else MINUS}${_grouped(abs(amount))}"


def cost(value) -> str:
    """An agent or LLM cost to the cent, or "< $0.01" for the fractions of a cent most steps
    cost (never "+< $0.01": a cost carries no sign)."""
    amount = as_decimal(value)
    if amount is None:
        return UNKNOWN
    if 0 < amount < HALF_CENT:
        return "< $0.01"
    return money(amount)


def precise_cost(value) -> str:
    """A cost with enough digits to be read when it is under a cent: $0.0004 (not $0.00), and
    to the cent otherwise. Used where a decision hangs on the amount (a budget refusal)."""
    amount = as_decimal(value)
    if amount is None:
        return UNKNOWN
    if 0 < abs(amount) < HALF_CENT:
        # Two significant digits are enough to compare with a limit: $0.0004, $0.000012.
        exponent = abs(amount).adjusted() - 1
        text = f"{abs(amount).quantize(Decimal(1).scaleb(exponent), ROUND_HALF_UP):f}"
        return f"{MINUS if amount < 0 else ''}${text.rstrip('0').rstrip('.')}"
    return money(amount)
