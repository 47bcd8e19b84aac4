"""A loopback fake of Alpaca's HTTP APIs (market data and trading) for alpaca-py clients.

Point a client at it with `url_override=fake.url`. Market data lives under /v2/stocks/...; the
trading API (/v2/account, /v2/orders, /v2/positions) keeps account, order and position state on
the FakeAlpaca instance. Nothing moves by itself: orders fill on submission, on reads (see
`fill_after_polls`) or when a test calls `tick()` after `set_price()`.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from trading.calendar import NEW_YORK, session_table
from trading.clock import Clock, SystemClock
from trading.marketdata.synthetic import SyntheticProvider
from trading.marketdata.universe import is_plain_ticker

# Alpaca's timeframe strings (alpaca-py's TimeFrame.value) -> our timeframes.
TIMEFRAMES = {
    "1Min": "1m",
    "5Min": "5m",
    "15Min": "15m",
    "1Hour": "1h",
    "4Hour": "4h",
    "1Day": "1d",
}
_BARS_PER_SESSION = {"1m": 390, "5m": 78, "15m": 26, "1h": 7, "4h": 2, "1d": 1}
_MAX_PAGE = 10_000


class FakeAlpaca(FakeHTTPServer):
    """Alpaca with fixed keys, serving SyntheticProvider(seed) data as of `clock.now()`."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        secret_key: str = "test-secret",  # noqa: S107 - a fake's fixed test credential
        seed: int = 42,
        clock: Clock | None = None,
        cash: Decimal | str | int = "100000",
    ):
        super().__init__()
        self.api_key = api_key
        self.secret_key = secret_key
        self.clock: Clock = clock or SystemClock()
        self.market = SyntheticProvider(seed=seed)
        self.page_size = _MAX_PAGE  # lower it to make alpaca-py follow next_page_token
        # -- trading state (guarded by state_lock: the server answers on many threads) --
        self.state_lock = threading.RLock()
        self.account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-alpaca/{api_key}"))
        self.account_number = "PA" + self.account_id.replace("-", "")[:10].upper()
        self.cash = Decimal(str(cash))
        self.orders: dict[str, FakeOrder] = {}  # by id, in submission order
        self.positions: dict[str, FakePosition] = {}
        self.prices: dict[str, Decimal] = {}  # set_price overrides of the synthetic quotes
        # Market orders stay "new" until they have been read this many times (GET by id or by
        # client id), then fill; 0 = filled in the POST response itself.
        self.fill_after_polls = 0
        # When set (0 < ratio < 1), entries fill only this share of their quantity, then stall.
        self.partial_fill_ratio: Decimal | None = None
        self._rejections: list[str] = []
        self._sequence = 0
        register_market_data_routes(self)
        register_trading_routes(self)

    def authorised(self, request: RecordedRequest) -> Response | None:
        """None when the key headers match, else the 403 Alpaca answers."""
        if (
            request.headers.get("apca-api-key-id") == self.api_key
            and request.headers.get("apca-api-secret-key") == self.secret_key
        ):
            return None
        return Response(403, {"message": "forbidden"})

    # -- trading: prices and time ------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal | str | float) -> None:
        """Pin `symbol`'s price (fills use it exactly, no spread); call tick() to let resting
        orders see it."""
        with self.state_lock:
            self.prices[symbol] = Decimal(str(price))

    def clear_price(self, symbol: str) -> None:
        with self.state_lock:
            self.prices.pop(symbol, None)

    def price(self, symbol: str, side: str | None = None) -> Decimal:
        """The pinned price, else the synthetic quote at clock.now(): the ask for a buy, the bid
        for a sell, the mid otherwise."""
        with self.state_lock:
            if symbol in self.prices:
                return self.prices[symbol]
        quote = self.market.quotes([symbol], at=self.clock.now())[symbol]
        value = {"buy": quote.ask, "sell": quote.bid}.get(side or "", quote.price)
        return Decimal(str(value)).quantize(_CENT, ROUND_HALF_UP)

    def tick(self) -> list[FakeOrder]:
        """Let every working order meet the current prices: delayed market orders fill, resting
        limits fill when marketable, stop and take-profit legs fill when crossed (their OCO
        sibling is cancelled). Returns the orders that filled, in order."""
        with self.state_lock:
            return [o for o in list(self.orders.values()) if o.is_open and self._work(o, tick=True)]

    # -- trading: scripting and inspection ----------------------------------------------------

    def reject_next_order(self, reason: str = "rejected by the fake") -> None:
        """The next order is accepted over HTTP (200) and then reported with status rejected,
        as Alpaca does for a rejection that happens after submission."""
        with self.state_lock:
            self._rejections.append(reason)

    def open_position(self, symbol: str, quantity: int, price: Decimal | str | float) -> None:
        """Seed a position without an order (negative quantity = short); cash pays for it."""
        with self.state_lock:
            self._apply_fill(symbol, "buy" if quantity > 0 else "sell", abs(quantity), _dec(price))

    def position_quantity(self, symbol: str) -> int:
        """Signed shares held (negative = short), 0 when flat."""
        with self.state_lock:
            position = self.positions.get(symbol)
            return position.qty if position else 0

    def orders_with_client_id(self, client_order_id: str) -> list[FakeOrder]:
        """Every order ever created under this client id (Alpaca allows one)."""
        with self.state_lock:
            return [o for o in self.orders.values() if o.client_order_id == client_order_id]

    def order_for(self, client_order_id: str) -> FakeOrder | None:
        orders = self.orders_with_client_id(client_order_id)
        return orders[-1] if orders else None

    def orders_for(self, symbol: str) -> list[FakeOrder]:
        """Top-level orders (bracket parents carry their legs) for `symbol`."""
        with self.state_lock:
            return [o for o in self.orders.values() if o.symbol == symbol and o.parent is None]

    def order_requests(self) -> list[dict]:
        """The JSON bodies of every POST /v2/orders received, accepted or not."""
        return [r.json for r in self.requests_to(r"^/v2/orders$", "POST")]

    def equity(self) -> Decimal:
        with self.state_lock:
            return self.cash + sum(
                (p.qty * self.price(p.symbol) for p in self.positions.values()), Decimal("0")
            )

    def buying_power(self) -> Decimal:
        """Roughly a cash account: cash, less twice the short exposure, less what open buy
        entries will cost."""
        with self.state_lock:
            short = sum(
                (-p.qty * self.price(p.symbol) for p in self.positions.values() if p.qty < 0),
                Decimal("0"),
            )
            pending = sum(
                (
                    o.remaining * (o.limit_price or self.price(o.symbol, "buy"))
                    for o in self.orders.values()
                    if o.is_open and o.side == "buy" and o.parent is None and o.opens
                ),
                Decimal("0"),
            )
            return max(Decimal("0"), self.cash - 2 * short - pending)

    # -- trading: the order book --------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    def _new_order(self, **fields) -> FakeOrder:
        self._sequence += 1
        now = self._now()
        order = FakeOrder(
            id=str(uuid.uuid4()),
            sequence=self._sequence,
            created_at=now,
            updated_at=now,
            **fields,
        )
        self.orders[order.id] = order
        return order

    def place(self, body: dict) -> Response:
        """Validate and book an order as POST /v2/orders would (also used by position closes)."""
        with self.state_lock:
            return self._place(body)

    def _place(self, body: dict) -> Response:
        symbol = str(body.get("symbol") or "")
        if not is_plain_ticker(symbol):
            return _error(422, 40010001, f'asset "{symbol}" not found')
        side = str(body.get("side") or "")
        if side not in ("buy", "sell"):
            return _error(422, 40010001, "side must be buy or sell")
        order_type = str(body.get("type") or body.get("order_type") or "")
        if order_type not in ("market", "limit", "stop", "stop_limit"):
            return _error(422, 40010001, f"invalid order type: {order_type or 'missing'}")
        time_in_force = str(body.get("time_in_force") or "")
        if time_in_force not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            return _error(422, 40010001, "invalid time_in_force")
        if body.get("notional") is not None:
            return _error(422, 40010001, "the fake takes qty orders only, not notional")
        try:
            qty_value = Decimal(str(body.get("qty")))
        except InvalidOperation:
            return _error(422, 40010001, "qty is required")
        if not qty_value.is_finite() or qty_value <= 0:
            return _error(422, 40010001, "qty must be > 0")
        if qty_value != qty_value.to_integral_value():
            return _error(422, 40010001, "fractional orders must be simple market orders")
        qty = int(qty_value)
        client_order_id = str(body.get("client_order_id") or uuid.uuid4())
        if len(client_order_id) > 128:
            return _error(422, 40010001, "client_order_id must be at most 128 characters")
        if any(o.client_order_id == client_order_id for o in self.orders.values()):
            return _error(422, 40010001, "client_order_id must be unique")
        prices: dict[str, Decimal | None] = {}
        for name in ("limit_price", "stop_price"):
            try:
                prices[name] = _price(body.get(name), name)
            except ValueError as error:
                return _error(422, 40010001, str(error))
        if order_type in ("limit", "stop_limit") and prices["limit_price"] is None:
            return _error(422, 40010001, f"limit_price is required for {order_type} orders")
        if order_type in ("stop", "stop_limit") and prices["stop_price"] is None:
            return _error(422, 40010001, f"stop_price is required for {order_type} orders")
        order_class = str(body.get("order_class") or "simple")
        if order_class not in ("simple", "bracket"):
            return _error(422, 40010001, f"order_class {order_class} is not supported by the fake")

        legs: list[dict] = []
        if order_class == "bracket":
            if order_type not in ("market", "limit"):
                return _error(422, 40010001, "bracket entries must be market or limit orders")
            if time_in_force not in ("day", "gtc"):
                return _error(422, 40010001, "bracket orders must be day or gtc")
            take_profit = body.get("take_profit") or {}
            stop_loss = body.get("stop_loss") or {}
            try:
                target = _price(take_profit.get("limit_price"), "take_profit.limit_price")
                stop = _price(stop_loss.get("stop_price"), "stop_loss.stop_price")
                stop_limit = _price(stop_loss.get("limit_price"), "stop_loss.limit_price")
            except ValueError as error:
                return _error(422, 40010001, str(error))
            if target is None:
                return _error(422, 40010001, "bracket orders require take_profit.limit_price")
            if stop is None:
                return _error(422, 40010001, "bracket orders require stop_loss.stop_price")
            # Alpaca checks the legs against the entry's limit, or the market for a market entry.
            base = prices["limit_price"] or self.price(symbol, side)
            above, below = base + _CENT, base - _CENT
            if side == "buy" and target < above:
                return _error(422, 42210000, f"take_profit.limit_price must be >= {above}")
            if side == "buy" and stop > below:
                return _error(422, 42210000, f"stop_loss.stop_price must be <= {below}")
            if side == "sell" and target > below:
                return _error(422, 42210000, f"take_profit.limit_price must be <= {below}")
            if side == "sell" and stop < above:
                return _error(422, 42210000, f"stop_loss.stop_price must be >= {above}")
            exit_side = "sell" if side == "buy" else "buy"
            legs = [
                {"type": "limit", "side": exit_side, "limit_price": target},
                {
                    "type": "stop_limit" if stop_limit is not None else "stop",
                    "side": exit_side,
                    "stop_price": stop,
                    "limit_price": stop_limit,
                },
            ]

        held = self.position_quantity(symbol)
        closes = (side == "sell" and held > 0) or (side == "buy" and held < 0)
        if closes:
            # Shares already promised to working exit orders (a bracket's legs count once) are
            # not available: Alpaca refuses, it does not queue.
            available = abs(held) - self._reserved(symbol, side)
            if qty > available:
                return _error(
                    403,
                    40310000,
                    f"insufficient qty available for order (requested: {qty}, "
                    f"available: {max(available, 0)})",
                )
        else:
            reference = prices["limit_price"] or prices["stop_price"] or self.price(symbol, side)
            if qty * reference > self.buying_power():
                return _error(403, 40310000, "insufficient buying power")

        order = self._new_order(
            client_order_id=client_order_id,
            symbol=symbol,
            qty=qty,
            side=side,
            type=order_type,
            time_in_force=time_in_force,
            order_class=order_class,
            limit_price=prices["limit_price"],
            stop_price=prices["stop_price"],
            extended_hours=bool(body.get("extended_hours")),
            opens=not closes,
        )
        for leg in legs:
            order.legs.append(
                self._new_order(
                    client_order_id=str(uuid.uuid4()),
                    symbol=symbol,
                    qty=qty,
                    side=leg["side"],
                    type=leg["type"],
                    time_in_force=time_in_force,
                    order_class=order_class,
                    limit_price=leg.get("limit_price"),
                    stop_price=leg.get("stop_price"),
                    status="held",  # legs wait for the entry to fill
                    parent=order,
                    opens=False,
                )
            )
        if self._rejections:
            order.status = "rejected"
            order.failed_at = self._now()
            order.reject_reason = self._rejections.pop(0)
            for leg in order.legs:
                leg.status = "canceled"
                leg.canceled_at = self._now()
        else:
            self._work(order, submitted=True)
        return Response(body=order.as_json())

    def _reserved(self, symbol: str, side: str) -> int:
        reserved = 0
        for order in self.orders.values():
            if order.symbol != symbol or order.side != side or order.opens:
                continue
            if order.parent is None and order.is_open:
                reserved += order.remaining
        for parent in self.orders.values():
            if parent.symbol != symbol or not parent.legs or not parent.filled_qty:
                continue
            working = [leg for leg in parent.legs if leg.is_open and leg.side == side]
            if working:
                reserved += min(max(leg.remaining for leg in working), parent.filled_qty)
        return reserved

    def _work(self, order: FakeOrder, *, submitted: bool = False, tick: bool = False) -> bool:
        """Fill what the market allows now; True when something filled."""
        if not order.is_open or order.stalled:
            return False
        if order.parent is not None:
            return self._work_exit_leg(order)
        price = self.price(order.symbol, order.side)
        if order.type == "market":
            if not tick and order.reads < self.fill_after_polls:
                return False
            return self._fill_entry(order, price)
        if order.type == "limit":
            marketable = (
                price <= order.limit_price if order.side == "buy" else price >= order.limit_price
            )
            if not marketable:
                return False
            # A limit that is marketable on arrival gets the market; one that rests gets its limit.
            return self._fill_entry(order, price if submitted else order.limit_price)
        return self._work_stop(order, price)

    def _fill_entry(self, order: FakeOrder, price: Decimal) -> bool:
        quantity = order.remaining
        if self.partial_fill_ratio is not None and order.opens:
            quantity = min(quantity, max(1, math.floor(order.qty * self.partial_fill_ratio)))
            order.stalled = quantity < order.remaining
        self._execute(order, quantity, price)
        return True

    def _work_stop(self, order: FakeOrder, price: Decimal) -> bool:
        triggered = price <= order.stop_price if order.side == "sell" else price >= order.stop_price
        if not triggered:
            return False
        if order.type == "stop_limit":
            fillable = (
                price >= order.limit_price if order.side == "sell" else price <= order.limit_price
            )
            if not fillable:
                return False
        quantity = min(order.remaining, self._closable(order))
        if quantity <= 0:
            return False
        self._execute(order, quantity, price)  # a triggered stop is a market order: it may gap
        return True

    def _work_exit_leg(self, leg: FakeOrder) -> bool:
        parent = leg.parent
        if not parent.filled_qty:
            return False
        price = self.price(leg.symbol)
        if leg.type == "limit":
            crossed = price >= leg.limit_price if leg.side == "sell" else price <= leg.limit_price
            if not crossed:
                return False
            quantity = min(leg.remaining, parent.filled_qty, self._closable(leg))
            if quantity <= 0:
                return False
            self._execute(leg, quantity, leg.limit_price)
            return True
        return self._work_stop(leg, price)

    def _closable(self, order: FakeOrder) -> int:
        held = self.position_quantity(order.symbol)
        if (order.side == "sell" and held > 0) or (order.side == "buy" and held < 0):
            return abs(held)
        return 0

    def _execute(self, order: FakeOrder, quantity: int, price: Decimal) -> None:
        now = self._now()
        total = order.filled_qty + quantity
        paid = (order.filled_avg_price or Decimal("0")) * order.filled_qty + price * quantity
        order.filled_avg_price = (paid / total).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        order.filled_qty = total
        order.status = "filled" if total >= order.qty else "partially_filled"
        order.updated_at = now
        if order.status == "filled":
            order.filled_at = now
        self._apply_fill(order.symbol, order.side, quantity, price)
        if order.legs and order.filled_qty:
            # Once the entry fills the take-profit works ("new"); the stop stays "held" but is
            # still watched, as Alpaca shows a bracket's OCO pair.
            for leg in order.legs:
                if leg.status == "held" and leg.type == "limit":
                    leg.status = "new"
                    leg.updated_at = now
        if order.parent is not None and order.status == "filled":
            for sibling in order.parent.legs:
                if sibling is not order and sibling.is_open:
                    sibling.status = "canceled"
                    sibling.canceled_at = sibling.updated_at = now

    def _apply_fill(self, symbol: str, side: str, quantity: int, price: Decimal) -> None:
        signed = quantity if side == "buy" else -quantity
        self.cash -= signed * price
        position = self.positions.get(symbol)
        held = position.qty if position else 0
        after = held + signed
        if after == 0:
            self.positions.pop(symbol, None)
            return
        if held == 0 or (held > 0) == (signed > 0):
            average = abs(held) * (position.avg_entry_price if position else 0) + quantity * price
            average = (average / abs(after)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        elif abs(signed) < abs(held):
            average = position.avg_entry_price  # reducing keeps the entry price
        else:
            average = price  # flipped through zero: the rest opened at this price
        self.positions[symbol] = FakePosition(symbol=symbol, qty=after, avg_entry_price=average)

    def _cancel(self, order: FakeOrder) -> None:
        now = self._now()
        order.status = "canceled"
        order.canceled_at = order.updated_at = now
        for leg in order.legs:
            if leg.is_open:
                leg.status = "canceled"
                leg.canceled_at = leg.updated_at = now

    def _replace(self, order: FakeOrder, body: dict) -> Response:
        changes: dict = {}
        for name in ("limit_price", "stop_price"):
            if body.get(name) is None:
                continue
            try:
                changes[name] = _price(body[name], name)
            except ValueError as error:
                return _error(422, 40010001, str(error))
        if "stop_price" in changes and order.type not in ("stop", "stop_limit"):
            return _error(422, 40010001, "stop_price can only be replaced on stop orders")
        if "limit_price" in changes and order.type not in ("limit", "stop_limit"):
            return _error(422, 40010001, "limit_price can only be replaced on limit orders")
        if body.get("qty") is not None:
            changes["qty"] = int(Decimal(str(body["qty"])))
        if body.get("time_in_force"):
            changes["time_in_force"] = str(body["time_in_force"])
        client_order_id = str(body.get("client_order_id") or uuid.uuid4())
        if any(o.client_order_id == client_order_id for o in self.orders.values()):
            return _error(422, 40010001, "client_order_id must be unique")
        # Alpaca replaces by creating a new order: the old one ends "replaced" and points at it.
        new = self._new_order(
            client_order_id=client_order_id,
            symbol=order.symbol,
            qty=changes.get("qty", order.qty),
            side=order.side,
            type=order.type,
            time_in_force=changes.get("time_in_force", order.time_in_force),
            order_class=order.order_class,
            limit_price=changes.get("limit_price", order.limit_price),
            stop_price=changes.get("stop_price", order.stop_price),
            status=order.status,
            parent=order.parent,
            opens=order.opens,
            replaces=order.id,
        )
        order.status = "replaced"
        order.replaced_at = order.updated_at = new.created_at
        order.replaced_by = new.id
        if order.parent is not None:
            legs = order.parent.legs
            legs[legs.index(order)] = new
        return Response(body=new.as_json())

    def account_json(self) -> dict:
        with self.state_lock:
            long_value = sum(
                (p.qty * self.price(p.symbol) for p in self.positions.values() if p.qty > 0),
                Decimal("0"),
            )
            short_value = sum(
                (p.qty * self.price(p.symbol) for p in self.positions.values() if p.qty < 0),
                Decimal("0"),
            )
            equity = self.cash + long_value + short_value
            buying_power = self.buying_power()
        return {
            "id": self.account_id,
            "account_number": self.account_number,
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "buying_power": _money(buying_power),
            "regt_buying_power": _money(buying_power),
            "daytrading_buying_power": "0",
            "non_marginable_buying_power": _money(buying_power),
            "options_buying_power": _money(buying_power),
            "cash": _money(self.cash),
            "accrued_fees": "0",
            "portfolio_value": _money(equity),
            "equity": _money(equity),
            "last_equity": _money(equity),
            "long_market_value": _money(long_value),
            "short_market_value": _money(short_value),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "multiplier": "1",
            "daytrade_count": 0,
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": False,
            "shorting_enabled": True,
            "created_at": "2024-01-02T14:30:00Z",
        }

    def position_json(self, position: FakePosition) -> dict:
        price = self.price(position.symbol)
        market_value = position.qty * price
        cost_basis = position.qty * position.avg_entry_price
        unrealized = market_value - cost_basis
        percent = (unrealized / abs(cost_basis)) if cost_basis else Decimal("0")
        return {
            "asset_id": _asset_id(position.symbol),
            "symbol": position.symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            # Alpaca reports a short as negative qty and market value, with side "short".
            "qty": str(position.qty),
            "qty_available": str(
                position.qty
                - (1 if position.qty > 0 else -1)
                * self._reserved(position.symbol, "sell" if position.qty > 0 else "buy")
            ),
            "avg_entry_price": str(position.avg_entry_price),
            "side": "long" if position.qty > 0 else "short",
            "market_value": _money(market_value),
            "cost_basis": _money(cost_basis),
            "unrealized_pl": _money(unrealized),
            "unrealized_plpc": str(percent.quantize(Decimal("0.0001"), ROUND_HALF_UP)),
            "unrealized_intraday_pl": _money(unrealized),
            "unrealized_intraday_plpc": str(percent.quantize(Decimal("0.0001"), ROUND_HALF_UP)),
            "current_price": str(price),
            "lastday_price": str(price),
            "change_today": "0",
        }


# Alpaca's working statuses. It lists a bracket's "held" stop leg among the closed orders, not
# the open ones (alpaca-trade-api-python#322), so `status=open` leaves "held" out.
OPEN_STATUSES = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "partially_filled",
        "held",
        "pending_cancel",
        "pending_replace",
        "accepted_for_bidding",
        "calculated",
    }
)
LISTED_AS_OPEN = OPEN_STATUSES - {"held"}
_CENT = Decimal("0.01")


@dataclass(eq=False)
class FakeOrder:
    """One order in the fake's book; `as_json()` is what Alpaca would answer for it."""

    id: str
    sequence: int
    client_order_id: str
    symbol: str
    qty: int
    side: str
    type: str
    time_in_force: str
    order_class: str
    created_at: datetime
    updated_at: datetime
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    status: str = "new"
    filled_qty: int = 0
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    extended_hours: bool = False
    opens: bool = True  # opens or adds to a position (vs closing one)
    parent: FakeOrder | None = field(default=None, repr=False)
    legs: list[FakeOrder] = field(default_factory=list, repr=False)
    reads: int = 0  # single-order GETs so far (see FakeAlpaca.fill_after_polls)
    stalled: bool = False  # a partial fill that will make no more progress
    reject_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty

    @property
    def take_profit(self) -> FakeOrder | None:
        return next((leg for leg in self.legs if leg.type == "limit"), None)

    @property
    def stop_loss(self) -> FakeOrder | None:
        return next((leg for leg in self.legs if leg.type in ("stop", "stop_limit")), None)

    def as_json(self, *, nested: bool = True) -> dict:
        intent = f"{self.side}_to_{'open' if self.opens else 'close'}"
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": _stamp(self.created_at),
            "updated_at": _stamp(self.updated_at),
            "submitted_at": _stamp(self.created_at),
            "filled_at": _stamp(self.filled_at),
            "expired_at": None,
            "expires_at": None,
            "canceled_at": _stamp(self.canceled_at),
            "failed_at": _stamp(self.failed_at),
            "replaced_at": _stamp(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": _asset_id(self.symbol),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(self.qty),
            "filled_qty": str(self.filled_qty),
            "filled_avg_price": None
            if self.filled_avg_price is None
            else str(self.filled_avg_price),
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": intent,
            "time_in_force": self.time_in_force,
            "limit_price": None if self.limit_price is None else str(self.limit_price),
            "stop_price": None if self.stop_price is None else str(self.stop_price),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": [leg.as_json() for leg in self.legs] if nested and self.legs else None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
        }


@dataclass
class FakePosition:
    symbol: str
    qty: int  # signed: negative = short
    avg_entry_price: Decimal


def _dec(value) -> Decimal:
    return Decimal(str(value))


def _price(value, name: str) -> Decimal | None:
    """A price from a request body; Alpaca refuses sub-penny increments above $1."""
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"invalid {name}") from None
    if not price.is_finite() or price <= 0:
        raise ValueError(f"{name} must be > 0")
    tick = _CENT if price >= 1 else Decimal("0.0001")
    if price != price.quantize(tick):
        raise ValueError(
            f"invalid {name} {value}. sub-penny increment does not fulfill minimum pricing criteria"
        )
    return price


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(_CENT, ROUND_HALF_UP))


def _stamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-alpaca/asset/{symbol}"))


def _error(status: int, code: int, message: str) -> Response:
    return Response(status, {"code": code, "message": message})


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


# -- trading routes ------------------------------------------------------------------------------


def register_trading_routes(fake: FakeAlpaca) -> None:
    def route(method: str, pattern: str, handler) -> None:
        def guarded(request: RecordedRequest, **groups):
            denied = fake.authorised(request)
            if denied:
                return denied
            with fake.state_lock:
                return handler(fake, request, **groups)

        fake.add_route(method, pattern, guarded)

    route("GET", r"/v2/account", lambda fake, request: Response(body=fake.account_json()))
    route("POST", r"/v2/orders", _post_order)
    route("GET", r"/v2/orders", _list_orders)
    route("DELETE", r"/v2/orders", _cancel_all_orders)
    route("GET", r"/v2/orders:by_client_order_id", _get_order_by_client_id)
    route("GET", r"/v2/orders/(?P<order_id>[^/:]+)", _get_order)
    route("PATCH", r"/v2/orders/(?P<order_id>[^/:]+)", _patch_order)
    route("DELETE", r"/v2/orders/(?P<order_id>[^/:]+)", _delete_order)
    route("GET", r"/v2/positions", _list_positions)
    route("GET", r"/v2/positions/(?P<symbol>[^/]+)", _get_position)
    route("DELETE", r"/v2/positions/(?P<symbol>[^/]+)", _close_position)


def _body(request: RecordedRequest) -> dict | Response:
    try:
        body = request.json
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, 40010000, "request body format is invalid")
    if not isinstance(body, dict):
        return _error(400, 40010000, "request body format is invalid")
    return body


def _post_order(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    body = _body(request)
    return body if isinstance(body, Response) else fake.place(body)


def _list_orders(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    status = request.param("status") or "open"
    if status not in ("open", "closed", "all"):
        return _error(422, 40010001, "invalid status")
    nested = _flag(request.param("nested"))
    limit = min(int(request.param("limit") or 50), 500)
    symbols = {s for s in (request.param("symbols") or "").split(",") if s}
    side = request.param("side")
    after = request.param("after")
    until = request.param("until")
    orders = []
    for order in fake.orders.values():
        # Nested listings roll legs up into their parent; flat ones list legs as orders.
        if nested and order.parent is not None:
            continue
        if status == "open" and order.status not in LISTED_AS_OPEN:
            continue
        if status == "closed" and order.status in LISTED_AS_OPEN:
            continue
        if symbols and order.symbol not in symbols:
            continue
        if side and order.side != side:
            continue
        if after and order.created_at <= _parse_time(after, order.created_at):
            continue
        if until and order.created_at >= _parse_time(until, order.created_at):
            continue
        orders.append(order)
    orders.sort(
        key=lambda o: (o.created_at, o.sequence), reverse=request.param("direction") != "asc"
    )
    return Response(body=[o.as_json(nested=nested) for o in orders[:limit]])


def _cancel_all_orders(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    cancelled = [o for o in fake.orders.values() if o.is_open and o.parent is None]
    for order in cancelled:
        fake._cancel(order)
    return Response(207, [{"id": o.id, "status": 200} for o in cancelled])


def _read(fake: FakeAlpaca, order: FakeOrder) -> Response:
    order.reads += 1
    fake._work(order)
    return Response(body=order.as_json())


def _get_order_by_client_id(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    client_order_id = request.param("client_order_id") or ""
    order = fake.order_for(client_order_id)
    if order is None:
        return _error(404, 40410000, "order not found")
    return _read(fake, order)


def _get_order(fake: FakeAlpaca, request: RecordedRequest, order_id: str) -> Response:
    order = fake.orders.get(order_id)
    if order is None:
        return _error(404, 40410000, f"order not found for {order_id}")
    return _read(fake, order)


def _patch_order(fake: FakeAlpaca, request: RecordedRequest, order_id: str) -> Response:
    order = fake.orders.get(order_id)
    if order is None:
        return _error(404, 40410000, f"order not found for {order_id}")
    if not order.is_open:
        return _error(422, 42210000, f'order is already in "{order.status}" state')
    body = _body(request)
    return body if isinstance(body, Response) else fake._replace(order, body)


def _delete_order(fake: FakeAlpaca, request: RecordedRequest, order_id: str) -> Response:
    order = fake.orders.get(order_id)
    if order is None:
        return _error(404, 40410000, f"order not found for {order_id}")
    if not order.is_open:
        return _error(422, 42210000, f'order is already in "{order.status}" state')
    fake._cancel(order)
    return Response(204)


def _list_positions(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    return Response(body=[fake.position_json(p) for p in fake.positions.values()])


def _get_position(fake: FakeAlpaca, request: RecordedRequest, symbol: str) -> Response:
    position = fake.positions.get(symbol)
    if position is None:
        return _error(404, 40410000, "position does not exist")
    return Response(body=fake.position_json(position))


def _close_position(fake: FakeAlpaca, request: RecordedRequest, symbol: str) -> Response:
    position = fake.positions.get(symbol)
    if position is None:
        return _error(404, 40410000, "position does not exist")
    held = abs(position.qty)
    quantity = held
    try:
        if request.param("qty"):
            quantity = int(Decimal(request.param("qty")))
        elif request.param("percentage"):
            quantity = math.floor(held * Decimal(request.param("percentage")) / 100)
    except InvalidOperation:
        return _error(422, 40010001, "invalid qty or percentage")
    if quantity <= 0 or quantity > held:
        return _error(422, 40010001, f"qty must be between 1 and {held}")
    # Alpaca closes with a market order, subject to the same "shares held by open orders" rule.
    return fake.place(
        {
            "symbol": symbol,
            "qty": quantity,
            "side": "sell" if position.qty > 0 else "buy",
            "type": "market",
            "time_in_force": "day",
        }
    )


def register_market_data_routes(fake: FakeAlpaca) -> None:
    fake.add_route("GET", r"/v2/stocks/bars", lambda request: _bars(fake, request))
    fake.add_route("GET", r"/v2/stocks/quotes/latest", lambda request: _latest(fake, request))


def _symbols(request: RecordedRequest) -> list[str]:
    return [s for s in (request.param("symbols") or "").split(",") if s]


def _invalid(symbols: list[str]) -> Response | None:
    bad = [s for s in symbols if not is_plain_ticker(s)]
    if not symbols:
        return Response(400, {"code": 40010001, "message": "symbols is required"})
    if bad:
        return Response(400, {"code": 40010001, "message": f"invalid symbol: {bad[0]}"})
    return None


def _parse_time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bars(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    denied = fake.authorised(request)
    if denied:
        return denied
    symbols = _symbols(request)
    invalid = _invalid(symbols)
    if invalid:
        return invalid
    timeframe = TIMEFRAMES.get(request.param("timeframe") or "")
    if timeframe is None:
        return Response(422, {"code": 42210000, "message": "invalid timeframe"})
    now = fake.clock.now()
    end = min(_parse_time(request.param("end"), now), now)
    start = _parse_time(request.param("start"), end.replace(hour=0, minute=0, second=0))
    limit = min(int(request.param("limit") or fake.page_size), fake.page_size)
    descending = request.param("sort") == "desc"
    offset = int(base64.b64decode(request.param("page_token") or "MA==").decode())

    table = session_table()
    sessions = table.index_at_or_before(end.timestamp()) - table.index_at_or_before(
        start.timestamp()
    )
    wanted = (sessions + 2) * _BARS_PER_SESSION[timeframe]
    rows: list[tuple[str, dict]] = []
    for symbol in sorted(set(symbols)):
        frame = fake.market.bars(symbol, timeframe, end=end, limit=wanted)
        frame = frame[frame.index >= start]
        symbol_rows = [(symbol, _bar_json(t, bar, timeframe)) for t, bar in frame.iterrows()]
        rows.extend(reversed(symbol_rows) if descending else symbol_rows)
    page = rows[offset : offset + limit]
    body: dict = {"bars": {}, "next_page_token": None}
    for symbol, bar in page:
        body["bars"].setdefault(symbol, []).append(bar)
    if offset + limit < len(rows):
        body["next_page_token"] = base64.b64encode(str(offset + limit).encode()).decode()
    return Response(body=body)


def _bar_json(stamp, bar, timeframe: str) -> dict:
    moment = stamp.to_pydatetime()
    if timeframe == "1d":
        # Alpaca stamps daily bars at midnight New York time.
        day = moment.astimezone(NEW_YORK).date()
        moment = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    typical = (bar["high"] + bar["low"] + bar["close"]) / 3
    return {
        "t": _rfc3339(moment),
        "o": bar["open"],
        "h": bar["high"],
        "l": bar["low"],
        "c": bar["close"],
        "v": int(bar["volume"]),
        "n": max(1, int(bar["volume"] // 150)),
        "vw": round(typical, 4),
    }


def _latest(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    denied = fake.authorised(request)
    if denied:
        return denied
    symbols = _symbols(request)
    invalid = _invalid(symbols)
    if invalid:
        return invalid
    now = fake.clock.now()
    quotes = fake.market.quotes(symbols, at=now)
    body = {
        "quotes": {
            symbol: {
                "t": _rfc3339(quote.timestamp if quote.timestamp <= now else now),
                "ax": "V",
                "ap": quote.ask,
                "as": 2,
                "bx": "V",
                "bp": quote.bid,
                "bs": 3,
                "c": ["R"],
                "z": "C",
            }
            for symbol, quote in quotes.items()
        }
    }
    return Response(body=body)
