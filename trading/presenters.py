"""What the position and trade rows show, worked out once per row in Python: prices to cents,
P&L with its sign and colour, the mode badge, links and the close confirmation's words.

The row partials (`trading/positions.html#position-row`, `trading/trades.html#trade-row`) only
print these values: a page of 50 rows then costs a few variable look-ups per cell instead of a
filter, an `{% include %}` and a `{% url %}` each, which is most of what a long table cost.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.urls import reverse
from django.utils import timezone

from trading import hooks, money
from trading.keyset import EPOCH, MICROSECOND, KeysetPage

# Within this share of the entry-to-stop distance from the stop, a position is "at risk" (§12.2).
AT_RISK_SHARE = Decimal("0.25")

MODE_TITLES = {
    "LIVE": "Real money",
    "PAPER": "Broker paper account — no real money",
    "SIMULATION": "Simulated fills — no real money",
}
VALIDATION_TITLE = "Logic only — no orders"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def price(value) -> str:
    """A share price to cents, grouped: 1,234.50 (— when unknown)."""
    amount = money.as_decimal(value)
    return money.UNKNOWN if amount is None else f"{amount.quantize(money.CENT, ROUND_HALF_UP):,.2f}"


def pnl_class(value) -> str:
    """gain / loss / "" for a P&L that rounds to zero cents."""
    amount = money.as_decimal(value)
    if amount is None or amount.quantize(money.CENT) == 0:
        return ""
    return "gain" if amount > 0 else "loss"


def position_tone(position) -> str:
    """gain / loss / warn: green in profit, red at a loss, yellow near its stop."""
    price_now = position.current_price
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


@dataclass(frozen=True)
class ModeBadge:
    """The mode badge's words (the same as `partials/mode_badge.html`)."""

    mode: str
    title: str
    label: str


@functools.cache
def mode_badge(mode: str) -> ModeBadge:
    return ModeBadge(
        mode=mode,
        title=MODE_TITLES.get(mode, VALIDATION_TITLE),
        label=f"● {mode}" if mode == "LIVE" else mode,
    )


class UrlPattern:
    """A route reversed once, then filled per row: `reverse()` per link per row cost more than
    the rest of the row. The sample argument has the route's own type, so the pattern is what
    `reverse()` gives for any id."""

    INT_SAMPLE = "918273645"
    UUID_SAMPLE = uuid.UUID("00000000-0000-4000-8000-918273645000")

    def __init__(self, name: str, *, uuid_arg: bool = False):
        sample = self.UUID_SAMPLE if uuid_arg else int(self.INT_SAMPLE)
        self.head, _, self.tail = reverse(name, args=[sample]).partition(str(sample))

    def __call__(self, pk) -> str:
        return f"{self.head}{pk}{self.tail}"


def upsert_since(page: KeysetPage) -> str:
    """Which pushed rows a paged table takes in (`data-upsert-since`, static/js/app.js): every
    row on an unpaged table (""), rows opened since its oldest row on the newest page of
    several, none on an older page (a pushed row that is not on the page belongs elsewhere)."""
    if page.newer:
        return "none"
    if page.older and page.rows:
        return str((page.rows[-1].opened_at - EPOCH) // MICROSECOND)
    return ""


def short_time(moment) -> str:
    """ "Dec 2, 09:35" on the reader's clock (the active time zone): what the `date:"M j, H:i"`
    filter wrote, without its per-call format machinery."""
    local = timezone.localtime(moment)
    return f"{MONTHS[local.month - 1]} {local.day}, {local:%H:%M}"


def pipeline_names(pipeline_ids, *, owner) -> dict:
    """Names of `owner`'s pipelines with these ids, in one query (pipelines sit above trading:
    asked through `trading.hooks`, for display only)."""
    ids = {pk for pk in pipeline_ids if pk}
    if not ids:
        return {}
    return hooks.pipeline_names(owner=owner, pipeline_ids=ids)


def _close_words(position) -> dict[str, str]:
    verb = "sells" if position.side == "long" else "buys back"
    consequences = (
        f"A market order {verb} {position.quantity} {position.symbol} now, at whatever the "
        "market pays.|Monitoring stops: its stop loss and targets no longer apply."
    )
    if position.trading_mode == "LIVE":
        consequences += "|This is a LIVE position: a real order goes to your broker."
    return {
        "close_message": f"Emergency close of your {position.get_side_display().lower()} "
        f"{position.symbol} position ({position.quantity} shares, {position.trading_mode}).",
        "close_consequences": consequences,
    }


def position_rows(positions: list, *, names: dict | None = None) -> list:
    """Each position with what its row shows (`position.row_*`, `position.pipeline_name`);
    the pipeline names in one query unless given."""
    if names is None:
        owner = positions[0].owner_id if positions else None
        names = pipeline_names((p.pipeline_id for p in positions), owner=owner)
    detail_url = UrlPattern("trading:position")
    close_url = UrlPattern("trading:position-close")
    pipeline_url = UrlPattern("pipelines:detail", uuid_arg=True)
    for position in positions:
        position.pipeline_name = names.get(position.pipeline_id, "")
        position.tone = position_tone(position)
        position.opened_micros = (position.opened_at - EPOCH) // MICROSECOND
        position.badge = mode_badge(position.trading_mode)
        position.side_label = position.get_side_display()
        position.entry_text = price(position.average_price)
        position.price_text = price(position.current_price)
        position.pnl_text = money.signed_money(position.unrealized_pnl)
        position.stop_text = price(position.stop_loss)
        position.targets_text = f"{price(position.target_1)} / {price(position.target_2)}"
        position.detail_url = detail_url(position.pk)
        position.close_url = close_url(position.pk)
        position.pipeline_url = pipeline_url(position.pipeline_id) if position.pipeline_id else ""
        position.__dict__.update(_close_words(position))
    return positions


def trade_rows(trades: list, *, names: dict) -> list:
    """Each trade with what its history row shows (`trade.*_text`, links, badges)."""
    execution_url = UrlPattern("pipelines:execution", uuid_arg=True)
    pipeline_url = UrlPattern("pipelines:detail", uuid_arg=True)
    for trade in trades:
        trade.pipeline_name = names.get(trade.pipeline_id, "")
        trade.opened_text = short_time(trade.opened_at)
        trade.pipeline_url = pipeline_url(trade.pipeline_id) if trade.pipeline_id else ""
        trade.execution_url = execution_url(trade.execution_id) if trade.execution_id else ""
        trade.badge = mode_badge(trade.trading_mode)
        trade.side_label = trade.get_side_display()
        trade.status_label = trade.get_status_display()
        trade.close_reason_label = trade.get_close_reason_display() if trade.close_reason else ""
        trade.entry_text = price(trade.entry_price)
        trade.exit_text = price(trade.exit_price)
        trade.stop_text = price(trade.initial_stop_loss)
        trade.targets_text = f"{price(trade.target_1)} / {price(trade.target_2)}"
        trade.pnl_class = pnl_class(trade.realized_pnl)
        trade.pnl_text = money.signed_money(trade.realized_pnl)
        trade.partly_closed = trade.remaining_quantity < trade.quantity
    return trades
