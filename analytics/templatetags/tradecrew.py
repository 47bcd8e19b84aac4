"""Template filters for what traders read: money to cents, prices, P&L colours, durations."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from trading import money as money_format
from trading import presenters

register = template.Library()

CENT = money_format.CENT


def _decimal(value) -> Decimal | None:
    return money_format.as_decimal(value)


def _grouped(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, ROUND_HALF_UP):,.2f}"


# Money is formatted in one place (trading/money.py); these filters are its template names
# (and importable here, as before).
money = register.filter("money", money_format.money)
signed_money = register.filter("signed_money", money_format.signed_money)
cost = register.filter("cost", money_format.cost)
precise_cost = register.filter("precise_cost", money_format.precise_cost)


@register.filter(expects_localtime=False)
def exchange_time(value) -> str:
    """ "09:35 ET" next to a time read in another zone, where the market's clock matters."""
    from trading.localtime import exchange_time as on_the_exchange

    return on_the_exchange(value)


@register.filter
def exact(value) -> str:
    """The unrounded amount, for a title attribute next to a rounded one."""
    amount = _decimal(value)
    return "" if amount is None else f"${amount.normalize():f}"


# Prices, P&L colours and position tones are worked out in trading/presenters.py (the lean row
# partials use them precomputed); these filters are their template names.
price = register.filter("price", presenters.price)
pnl_class = register.filter("pnl_class", presenters.pnl_class)


@register.filter
def percent_points(value, places: int = 2) -> str:
    """A value already in percent (e.g. a return of -1.5 %) with the pages' minus sign: "−1.50%";
    — when unknown."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    rounded = amount.quantize(Decimal(1).scaleb(-int(places)), ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # never "−0.00%"
    return f"{rounded}%".replace("-", money_format.MINUS)


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


position_tone = register.filter("position_tone", presenters.position_tone)
