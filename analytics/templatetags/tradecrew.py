"""Template filters for what traders read: money to cents, prices, P&L colours, durations."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

CENT = Decimal("0.01")
MINUS = "−"  # a real minus sign lines up with the digits


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _grouped(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, ROUND_HALF_UP):,.2f}"


@register.filter
def money(value) -> str:
    """$1,234.56 (−$12.30 below zero; — when unknown)."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    text = _grouped(abs(amount))
    return f"{MINUS}${text}" if amount.quantize(CENT, ROUND_HALF_UP) < 0 else f"${text}"


@register.filter
def signed_money(value) -> str:
    """+$12.30 / −$12.30: P&L with its sign."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    rounded = amount.quantize(CENT, ROUND_HALF_UP)
    if rounded == 0:
        return "$0.00"
    return f"{'+' if rounded > 0 else MINUS}${_grouped(abs(amount))}"


@register.filter
def cost(value) -> str:
    """An agent or LLM cost: cents, or "< $0.01" for the fractions of a cent most steps cost."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    if 0 < amount < Decimal("0.005"):
        return "< $0.01"
    return money(amount)


@register.filter
def exact(value) -> str:
    """The unrounded amount, for a title attribute next to a rounded one."""
    amount = _decimal(value)
    return "" if amount is None else f"${amount.normalize():f}"


@register.filter
def price(value) -> str:
    """A share price to cents, grouped: 1,234.50."""
    amount = _decimal(value)
    return "—" if amount is None else _grouped(amount)


@register.filter
def pnl_class(value) -> str:
    amount = _decimal(value)
    if amount is None or amount.quantize(CENT) == 0:
        return ""
    return "gain" if amount > 0 else "loss"


@register.filter
def duration_ms(value) -> str:
    if value is None or value == "":
        return "—"
    milliseconds = float(value)
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


@register.filter
def duration_s(value) -> str:
    if value is None or value == "":
        return "—"
    return duration_ms(float(value) * 1000)


@register.filter
def humanize_key(value) -> str:
    """snake_case → Sentence case, for keys shown as labels."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@register.filter
def get_item(mapping, key):
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


# Within this share of the entry-to-stop distance from the stop, a position is "at risk" (§12.2).
AT_RISK_SHARE = Decimal("0.25")


@register.filter
def position_tone(position) -> str:
    """gain / loss / warn: green in profit, red at a loss, yellow near its stop."""
    price_now = position.current_price if position.current_price is not None else None
    if (
        price_now is not None
        and position.stop_loss is not None
        and position.average_price != position.stop_loss
    ):
        direction = 1 if position.side == "long" else -1
        room = (price_now - position.stop_loss) * direction
        if room <= abs(position.average_price - position.stop_loss) * AT_RISK_SHARE:
            return "warn"
    return pnl_class(position.unrealized_pnl)
