"""AlpacaExecutor: PAPER and LIVE brackets via alpaca-py, idempotent by client_order_id."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)
from pydantic import ValidationError

from config.core import metrics
from trading.executors.base import (
    AccountSnapshot,
    BracketOrderRequest,
    ExecutionError,
    OrderResult,
    PositionSnapshot,
    TradeExecutor,
)

logger = logging.getLogger(__name__)

Order = dict[str, Any]  # an order as Alpaca's JSON (the client runs with raw_data=True)

CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")
ZERO = Decimal("0")
# Alpaca's statuses for an order that can still fill, be cancelled or be replaced. "held" is a
# bracket leg waiting on its entry or on its OCO sibling: still working.
WORKING = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "accepted_for_bidding",
        "held",
        "partially_filled",
        "pending_cancel",
        "pending_replace",
        "pending_review",
        "calculated",
        "stopped",
        "suspended",
        "done_for_day",
    }
)
STOP_TYPES = ("stop", "stop_limit")
# A partial fill that has not grown over this many polls is reported as it stands.
PARTIAL_FILL_STALL_POLLS = 3
# Alpaca's largest page for GET /v2/orders; a symbol's recent brackets fit in one.
ORDER_HISTORY_LIMIT = 500
# Longest wait between attempts, whatever Retry-After asks for: a worker must not sleep for
# minutes; the order stays looked-up-before-resend, so giving up early is safe.
MAX_WAIT_SECONDS = 60.0
# The stop placed on what is left after a partial close carries the close's id plus this.
PROTECTIVE_STOP_SUFFIX = "-stop"
# Messages Alpaca answers when the keys, not the order, are the problem.
KEY_REJECTIONS = ("forbidden", "request is not authorized", "unauthorized", "access key")


class _Transient(Exception):
    """Worth another attempt: HTTP 429 or 5xx, a timeout or a dropped connection."""

    def __init__(self, description: str, wait: float | None = None):
        super().__init__(description)
        self.wait = wait  # what the server asked for (Retry-After / X-RateLimit-Reset)


class _Refused(Exception):
    """A final answer from Alpaca (4xx other than 429)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class _TimeoutSession(requests.Session):
    """alpaca-py sends every request without a timeout; a broker that never answers would hold
    a worker forever. This session gives each request one."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


class AlpacaExecutor(TradeExecutor):
    """Orders on an Alpaca paper or live account. The broker holds each bracket's stop and
    take-profit; the ledger mirrors what it reports."""

    sends_orders = True
    manages_exits_at_broker = True

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        paper: bool,
        url_override: str | None = None,
        fill_timeout: float = 30,
        poll_interval: float = 0.5,
        max_attempts: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        request_timeout: float = 10,
    ):
        self.mode = "PAPER" if paper else "LIVE"
        self.paper = paper
        self.fill_timeout = fill_timeout
        self.poll_interval = poll_interval
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self._sleep = sleep
        try:
            self._client = TradingClient(
                api_key, api_secret, paper=paper, raw_data=True, url_override=url_override or None
            )
        except ValueError:
            raise ExecutionError(
                "The Alpaca connection needs both an API key and a secret key."
            ) from None
        # alpaca-py retries 429 and 504 on its own, sleeping 3 s between tries and knowing
        # nothing of the look-up-before-resend rule below; only this class may resend.
        self._client._retry = 0
        self._client._session.close()
        self._client._session = _TimeoutSession(request_timeout)

    def __repr__(self) -> str:
        return f"<AlpacaExecutor {self.mode}>"

    # --- account -----------------------------------------------------------------------------

    def account(self) -> AccountSnapshot:
        account = self._read("the account query", self._client.get_account)
        return AccountSnapshot(
            equity=_decimal(account.get("equity")),
            cash=_decimal(account.get("cash")),
            buying_power=_decimal(account.get("buying_power")),
            currency=str(account.get("currency") or "USD"),
        )

    def positions(self) -> list[PositionSnapshot]:
        positions = self._read("the positions query", self._client.get_all_positions)
        return [_position(p) for p in positions]

    def position(self, symbol: str) -> PositionSnapshot | None:
        raw = self._position_raw(symbol)
        return _position(raw) if raw is not None else None

    # --- orders ------------------------------------------------------------------------------

    def submit_bracket(self, request: BracketOrderRequest) -> OrderResult:
        order = self._send_once(_bracket_order(request), request.client_order_id, "the order")
        order, note = self._await_fill(order)
        return _result(order, expected_price=request.entry_price, note=note)

    def find_order(self, client_order_id: str) -> OrderResult | None:
        order = self._lookup(client_order_id)
        return _result(order) if order is not None else None

    def close_position(
        self,
        symbol: str,
        *,
        quantity: int | None,
        client_order_id: str,
        reference_price: Decimal | None = None,
    ) -> OrderResult:
        if quantity is not None and quantity <= 0:
            raise ExecutionError(f"Cannot close {quantity} shares of {symbol}.")
        existing = self._lookup(client_order_id)
        if existing is not None:  # sent before (a retried step): follow it, send nothing
            order, note = self._await_fill(existing)
            return _result(order, expected_price=reference_price, note=note)
        position = self._position_raw(symbol)
        if position is None:
            raise ExecutionError(f"There is no open Alpaca position in {symbol} to close.")
        # Bracket legs, stops and earlier closes still working (queued while the market was
        # shut) hold the shares: Alpaca refuses a closing order for shares promised to working
        # orders ("insufficient qty available"), so they are cancelled first.
        orders = self._symbol_orders(symbol)
        closing_side = "sell" if str(position.get("side")) == "long" else "buy"
        exits = [leg for leg, _ in _exits(orders) if _working(leg)]
        exits += [
            order
            for order in orders
            if not order.get("legs")
            and _working(order)
            and order.get("side") == closing_side
            and order.get("type") not in STOP_TYPES  # stand-alone stops are in _exits already
        ]
        stops = [leg for leg in exits if leg.get("type") in STOP_TYPES]
        self._cancel_and_confirm(exits)
        # A leg may have filled while it was being cancelled: ask again what is left.
        position = self._position_raw(symbol)
        if position is None:
            raise ExecutionError(
                f"{symbol} was already closed at Alpaca (an exit order filled first)."
            )
        held = abs(_int(position.get("qty")))
        closing = min(quantity or held, held)  # never more than held: that would open a short
        side = OrderSide.SELL if str(position.get("side")) == "long" else OrderSide.BUY
        order_request = _validated(
            MarketOrderRequest,
            symbol=symbol,
            qty=closing,
            side=side,
            time_in_force=TimeInForce.DAY,
            client_order_id=client_order_id,
        )
        order = self._send_once(order_request, client_order_id, "the close order")
        order, note = self._await_fill(order)
        left = held - closing
        if left and stops:
            note = " ".join(
                filter(None, [note, self._protect_rest(symbol, side, left, stops, client_order_id)])
            )
        return _result(order, expected_price=reference_price, note=note)

    def move_stop(self, symbol: str, stop_price: Decimal) -> None:
        price = _tick(Decimal(stop_price))
        last: _Transient | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                # Listed afresh on every attempt: a replace that reached Alpaca before an error
                # made a new leg already at this price, which is then left alone.
                orders = self._symbol_orders(symbol, retry=False)
                stops = [
                    leg
                    for leg, _ in _exits(orders)
                    if _working(leg) and leg.get("type") in STOP_TYPES
                ]
                if not stops:
                    logger.info("move_stop: no working stop at Alpaca for %s", symbol)
                    return
                for leg in stops:
                    if _decimal(leg.get("stop_price")) != price:
                        self._once(
                            self._client.replace_order_by_id,
                            leg["id"],
                            ReplaceOrderRequest(stop_price=float(price)),
                        )
                return
            except _Transient as error:
                last = error
                if attempt < self.max_attempts:
                    metrics.broker_retry(broker="alpaca")
                    self._sleep(self._wait(attempt, error))
            except _Refused as refused:
                raise _refusal("the stop move", refused) from None
        raise ExecutionError(
            f"Alpaca did not confirm the stop move for {symbol} after {self.max_attempts} "
            f"attempts ({last}).",
            retryable=True,
        )

    def exit_fills(self, symbol: str) -> list[OrderResult]:
        fills = []
        for leg, parent in _exits(self._symbol_orders(symbol)):
            if _int(leg.get("filled_qty")) <= 0:
                continue
            raw = dict(leg)
            if parent is not None:
                raw["parent_order_id"] = parent.get("id")
                raw["parent_client_order_id"] = parent.get("client_order_id")
            fills.append(_result(raw))
        return sorted(fills, key=lambda fill: str(fill.raw.get("filled_at") or ""))

    # --- sending, idempotently -----------------------------------------------------------------

    def _send_once(self, order_request: OrderRequest, client_order_id: str, what: str) -> Order:
        """The order Alpaca holds under `client_order_id`, sending `order_request` only when it
        holds none. Before the first send (an earlier run may have sent it) and before every
        resend (an attempt that failed for us may have reached Alpaca) the id is looked up, so
        a retry never places a second order."""
        last: _Transient | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                existing = self._find(client_order_id)
                if existing is not None:
                    return existing
                return self._once(self._client.submit_order, order_request)
            except _Transient as error:
                last = error
                logger.warning(
                    "Alpaca %s %s, attempt %d/%d: %s",
                    what,
                    client_order_id,
                    attempt,
                    self.max_attempts,
                    error,
                )
                if attempt < self.max_attempts:
                    metrics.broker_retry(broker="alpaca")
                    self._sleep(self._wait(attempt, error))
            except _Refused as refused:
                if refused.status == 422 and "client_order_id" in refused.message:
                    # "client_order_id must be unique": a send we never heard back from got
                    # through between our look-up and this attempt.
                    existing = self._lookup(client_order_id)
                    if existing is not None:
                        return existing
                raise _refusal(what, refused) from None
        raise ExecutionError(
            f"Alpaca did not confirm {what} after {self.max_attempts} attempts ({last}). It may "
            "still have arrived; it is looked up by its id before any resend.",
            retryable=True,
        )

    def _await_fill(self, order: Order) -> tuple[Order, str]:
        """Poll the order until it settles (filled, cancelled, rejected, expired), a partial fill
        stops growing, or fill_timeout passes. Returns the last state seen and a note."""
        client_order_id = order.get("client_order_id") or ""
        polls_left = math.ceil(self.fill_timeout / self.poll_interval) if self.poll_interval else 1
        deadline = time.monotonic() + self.fill_timeout
        stalled = 0
        while True:
            status = order.get("status")
            if status not in WORKING:
                return order, ""
            if status == "partially_filled" and stalled >= PARTIAL_FILL_STALL_POLLS:
                return order, "Partially filled; the rest is still working at Alpaca."
            if polls_left <= 0 or time.monotonic() >= deadline:
                return order, (
                    f"Not filled within {self.fill_timeout:g} s; the order is still working at "
                    f"Alpaca ({status})."
                )
            self._sleep(self.poll_interval)
            polls_left -= 1
            try:
                latest = self._find(client_order_id)
            except _Transient:
                continue  # keep polling; the order is at Alpaca either way
            except _Refused as refused:
                return order, f"Could not follow the order at Alpaca ({refused})."
            if latest is None:
                continue  # just accepted and not yet visible by client id
            progressed = _int(latest.get("filled_qty")) != _int(order.get("filled_qty"))
            stalled = 0 if progressed else stalled + 1
            order = latest

    def _cancel_and_confirm(self, orders: list[Order]) -> None:
        """Cancel, then wait until Alpaca confirms: a cancel is asynchronous (pending_cancel) and
        the shares stay held until it completes."""
        for order in orders:
            try:
                self._retrying(
                    "the exit order cancellation", self._client.cancel_order_by_id, order["id"]
                )
            except _Refused as refused:
                if refused.status not in (404, 422):  # 422/404: already filled or cancelled
                    raise _refusal("the exit order cancellation", refused) from None
        pending = [order["id"] for order in orders]
        polls_left = math.ceil(self.fill_timeout / self.poll_interval) if self.poll_interval else 1
        while pending:
            states = [
                self._read("the order query", self._client.get_order_by_id, order_id)
                for order_id in pending
            ]
            pending = [state["id"] for state in states if _working(state)]
            if not pending:
                return
            if polls_left <= 0:
                raise ExecutionError(
                    "Alpaca has not confirmed cancelling the exit orders yet; try again.",
                    retryable=True,
                )
            self._sleep(self.poll_interval)
            polls_left -= 1

    def _protect_rest(
        self, symbol: str, side: OrderSide, quantity: int, stops: list[Order], client_order_id: str
    ) -> str:
        """After a partial close, put back a stop on what is left (its bracket legs were
        cancelled to free the shares): the tightest of the old stops."""
        prices = [_tick(_decimal(leg.get("stop_price"))) for leg in stops]
        stop_price = max(prices) if side == OrderSide.SELL else min(prices)
        gtc = any(leg.get("time_in_force") == "gtc" for leg in stops)
        stop_id = f"{client_order_id}{PROTECTIVE_STOP_SUFFIX}"
        try:
            self._send_once(
                _validated(
                    StopOrderRequest,
                    symbol=symbol,
                    qty=quantity,
                    side=side,
                    time_in_force=TimeInForce.GTC if gtc else TimeInForce.DAY,
                    stop_price=float(stop_price),
                    client_order_id=stop_id,
                ),
                stop_id,
                "the protective stop",
            )
        except ExecutionError as error:
            logger.error("Could not re-place the stop for %s %s: %s", quantity, symbol, error)
            return f"The stop for the remaining {quantity} shares could not be re-placed: {error}"
        return f"The remaining {quantity} shares keep a stop at {stop_price}."

    # --- reading --------------------------------------------------------------------------------

    def _once(self, call: Callable[..., Any], *args: Any) -> Any:
        """One HTTP call, its failure sorted into _Transient (retry) or _Refused (final)."""
        try:
            return call(*args)
        except APIError as error:
            status = error.status_code or 0
            message = _broker_message(error)
            metrics.broker_error(
                broker="alpaca", kind="transient" if status == 429 or status >= 500 else "refused"
            )
            if status == 429 or status >= 500:
                raise _Transient(
                    f"HTTP {status}: {message}", _server_wait(error.response)
                ) from None
            raise _Refused(status, message) from None
        except requests.Timeout:
            metrics.broker_error(broker="alpaca", kind="timeout")
            raise _Transient("no answer in time") from None
        except requests.ConnectionError as error:
            metrics.broker_error(broker="alpaca", kind="connection")
            raise _Transient(f"connection failed: {type(error).__name__}") from None

    def _retrying(self, what: str, call: Callable[..., Any], *args: Any) -> Any:
        """A read (or an idempotent write): retried with backoff; _Refused passes through."""
        last: _Transient | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._once(call, *args)
            except _Transient as error:
                last = error
                if attempt < self.max_attempts:
                    metrics.broker_retry(broker="alpaca")
                    self._sleep(self._wait(attempt, error))
        raise ExecutionError(
            f"Alpaca did not answer {what} after {self.max_attempts} attempts ({last}).",
            retryable=True,
        )

    def _read(self, what: str, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return self._retrying(what, call, *args)
        except _Refused as refused:
            raise _refusal(what, refused) from None

    def _find(self, client_order_id: str) -> Order | None:
        """One look-up by client id; None when Alpaca has no such order (404)."""
        try:
            return self._once(self._client.get_order_by_client_id, client_order_id)
        except _Refused as refused:
            if refused.status == 404:
                return None
            raise

    def _lookup(self, client_order_id: str) -> Order | None:
        try:
            return self._retrying("the order look-up", self._find, client_order_id)
        except _Refused as refused:
            raise _refusal("the order look-up", refused) from None

    def _position_raw(self, symbol: str) -> dict | None:
        try:
            return self._retrying("the position query", self._client.get_open_position, symbol)
        except _Refused as refused:
            if refused.status == 404:  # "position does not exist": flat
                return None
            raise _refusal("the position query", refused) from None

    def _symbol_orders(self, symbol: str, *, retry: bool = True) -> list[Order]:
        """The symbol's recent orders, bracket legs nested under their entry.

        status=all, not open: once a bracket's entry fills, Alpaca no longer lists the bracket
        under status=open, and it lists a "held" stop leg among the closed orders; only the
        nested listing of all orders shows every leg with its parent."""
        request = GetOrdersRequest(
            status=QueryOrderStatus.ALL,
            nested=True,
            symbols=[symbol],
            limit=ORDER_HISTORY_LIMIT,
            direction=Sort.DESC,
        )
        if not retry:
            return self._once(self._client.get_orders, request)
        return self._read("the order list", self._client.get_orders, request)

    def _wait(self, attempt: int, error: _Transient) -> float:
        if error.wait is not None:
            return min(max(error.wait, 0.0), MAX_WAIT_SECONDS)
        return min(self.backoff * 2 ** (attempt - 1), MAX_WAIT_SECONDS)


def alpaca_executor_for(connection, **options: Any) -> AlpacaExecutor:
    """The executor for an accounts.models.BrokerConnection (paper or live)."""
    from accounts.brokers import alpaca_trading_url

    return AlpacaExecutor(
        api_key=connection.api_key,
        api_secret=connection.api_secret,
        paper=connection.account_type == "paper",
        url_override=alpaca_trading_url(connection.account_type),
        **options,
    )


# --- mapping ---------------------------------------------------------------------------------


def _exits(orders: list[Order]) -> Iterator[tuple[Order, Order | None]]:
    """(exit order, its bracket entry), oldest first: the legs of brackets whose entry has
    filled, and stand-alone stops that close (the one close_position leaves after a partial
    close, or one the trader placed at Alpaca: it holds the shares all the same)."""
    # Alpaca lists newest first; a stable newest-first sort, walked backwards, keeps orders
    # stamped in the same instant in the order they were placed.
    newest_first = sorted(orders, key=lambda o: str(o.get("created_at") or ""), reverse=True)
    for order in reversed(newest_first):
        legs = order.get("legs") or []
        if legs:
            if _int(order.get("filled_qty")) > 0:
                for leg in legs:
                    yield leg, order
        elif order.get("type") in STOP_TYPES and not str(
            order.get("position_intent") or ""
        ).endswith("_to_open"):
            yield order, None


def _working(order: Order) -> bool:
    return order.get("status") in WORKING


def _bracket_order(request: BracketOrderRequest) -> OrderRequest:
    if request.quantity <= 0:
        raise ExecutionError(f"Cannot order {request.quantity} shares of {request.symbol}.")
    time_in_force = (request.time_in_force or "day").lower()
    if time_in_force not in ("day", "gtc"):
        raise ExecutionError(
            f"Alpaca bracket orders are day or gtc, not {request.time_in_force!r}."
        )
    # One take-profit per bracket: this leg's target, else the plan's final one.
    take_profit = request.take_profit if request.take_profit is not None else request.target_2
    fields = {
        "symbol": request.symbol,
        "qty": request.quantity,
        "side": _side(request.side),
        "time_in_force": TimeInForce(time_in_force),
        "order_class": OrderClass.BRACKET,
        "take_profit": TakeProfitRequest(limit_price=_price(take_profit)),
        "stop_loss": StopLossRequest(stop_price=_price(request.stop_loss)),
        "client_order_id": request.client_order_id,
    }
    if request.order_type == "limit":
        limit = request.limit_price if request.limit_price is not None else request.entry_price
        return _validated(LimitOrderRequest, limit_price=_price(limit), **fields)
    if request.order_type != "market":
        raise ExecutionError(f"Alpaca brackets enter at market or limit, not {request.order_type}.")
    return _validated(MarketOrderRequest, **fields)


def _validated(model: type[OrderRequest], **fields: Any) -> OrderRequest:
    try:
        return model(**fields)
    except ValidationError as error:
        problems = "; ".join(e["msg"] for e in error.errors())
        raise ExecutionError(f"The order is not valid for Alpaca: {problems}") from None


def _side(side: str) -> OrderSide:
    try:
        return OrderSide(str(side).lower())
    except ValueError:
        raise ExecutionError(f"Unknown order side {side!r} (buy or sell).") from None


def _tick(price: Decimal) -> Decimal:
    # Alpaca refuses sub-penny prices at or above $1 (and more than 4 decimals below it).
    return price.quantize(CENT if abs(price) >= 1 else SUB_DOLLAR_TICK, ROUND_HALF_UP)


def _price(value: Decimal | None) -> float:
    if value is None:
        raise ExecutionError("The bracket needs a stop-loss and a take-profit price.")
    return float(_tick(Decimal(value)))


def _our_status(order: Order) -> str:
    status = str(order.get("status") or "")
    filled = _int(order.get("filled_qty"))
    if status == "filled":
        return "filled"
    if status == "rejected":
        return "rejected"
    if status == "partially_filled" or (status not in WORKING and filled > 0):
        return "partially_filled"  # includes canceled/expired after a partial fill: final
    if status in ("canceled", "expired"):
        return status
    return "accepted"


_MESSAGES = {
    "filled": "Filled at Alpaca.",
    "partially_filled": "Partially filled at Alpaca.",
    "rejected": "Alpaca rejected the order.",
    "canceled": "The order was cancelled at Alpaca.",
    "expired": "The order expired at Alpaca unfilled.",
    "accepted": "Accepted by Alpaca, not filled yet.",
}


def _result(order: Order, *, expected_price: Decimal | None = None, note: str = "") -> OrderResult:
    status = _our_status(order)
    filled_quantity = _int(order.get("filled_qty"))
    filled_price = _decimal(order.get("filled_avg_price")) if filled_quantity else None
    slippage = ZERO
    if filled_price is not None and expected_price:
        # Per share and adverse-positive: paying more on a buy, receiving less on a sell.
        difference = filled_price - Decimal(expected_price)
        slippage = difference if order.get("side") == "buy" else -difference
    leg = {"limit": "Take-profit", "stop": "Stop-loss", "stop_limit": "Stop-loss"}.get(
        str(order.get("type"))
    )
    message = note or _MESSAGES[status]
    if order.get("parent_order_id") and leg:
        message = f"{leg} leg {_MESSAGES[status][0].lower()}{_MESSAGES[status][1:]}"
    return OrderResult(
        client_order_id=str(order.get("client_order_id") or ""),
        status=status,
        broker_order_id=str(order.get("id") or ""),
        filled_quantity=filled_quantity,
        filled_price=filled_price,
        commission=_decimal(order.get("commission")),  # Alpaca is commission-free for stocks
        slippage=slippage,
        message=message,
        raw=order,
    )


def _position(raw: dict) -> PositionSnapshot:
    # Alpaca reports a short with a negative qty and market value; ours are sizes, side apart.
    return PositionSnapshot(
        symbol=str(raw.get("symbol")),
        side=str(raw.get("side") or "long").lower(),
        quantity=abs(_int(raw.get("qty"))),
        average_price=_decimal(raw.get("avg_entry_price")),
        market_value=abs(_decimal(raw.get("market_value"))),
        unrealized_pnl=_decimal(raw.get("unrealized_pl")),
    )


def _refusal(what: str, refused: _Refused) -> ExecutionError:
    message = refused.message
    if refused.status == 401 or (
        refused.status == 403 and any(k in message.lower() for k in KEY_REJECTIONS)
    ):
        return ExecutionError(
            f"Alpaca rejected the API keys (HTTP {refused.status}: {message}); check the key, "
            "the secret and paper vs live in Settings."
        )
    return ExecutionError(f"Alpaca refused {what} ({refused.status}): {message}")


def _broker_message(error: APIError) -> str:
    text = str(error)
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no message"
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return text.strip()[:300]


def _server_wait(response: requests.Response | None) -> float | None:
    """Seconds the server asked us to wait: Retry-After (seconds or an HTTP date), else Alpaca's
    X-RateLimit-Reset (the Unix time the rate-limit window reopens)."""
    if response is None:
        return None
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return float(retry_after)
        except ValueError:
            try:
                moment = parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                moment = None
            if moment is not None:
                return (moment - datetime.now(UTC)).total_seconds()
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return float(reset) - time.time()
        except ValueError:
            return None
    return None


def _decimal(value: Any) -> Decimal:
    if value is None or value == "":
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return ZERO


def _int(value: Any) -> int:
    return int(_decimal(value))
