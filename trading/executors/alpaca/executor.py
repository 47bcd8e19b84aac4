"""AlpacaExecutor: PAPER and LIVE brackets, closes and stop moves at Alpaca, idempotent by
client_order_id; the broker holds each bracket's exits and the ledger mirrors what it reports."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest, ReplaceOrderRequest, StopOrderRequest

from trading.executors.alpaca.answers import (
    STOP_TYPES,
    WORKING,
    Order,
    as_decimal,
    as_int,
    exits,
    order_result,
    position_snapshot,
    working,
)
from trading.executors.alpaca.connection import AlpacaConnection
from trading.executors.alpaca.errors import Refused, Transient, call_once, refusal
from trading.executors.alpaca.order_requests import bracket_order, tick, validated
from trading.executors.base import (
    AccountSnapshot,
    BracketOrderRequest,
    ExecutionError,
    OrderResult,
    PositionSnapshot,
    TradeExecutor,
)

logger = logging.getLogger(__name__)

# A partial fill that has not grown over this many polls is reported as it stands.
PARTIAL_FILL_STALL_POLLS = 3
# The stop placed on what is left after a partial close carries the close's id plus this.
PROTECTIVE_STOP_SUFFIX = "-stop"


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
        self._alpaca = AlpacaConnection(
            api_key=api_key,
            api_secret=api_secret,
            paper=paper,
            url_override=url_override,
            max_attempts=max_attempts,
            backoff=backoff,
            sleep=sleep,
            request_timeout=request_timeout,
        )

    def __repr__(self) -> str:
        return f"<AlpacaExecutor {self.mode}>"

    # --- account -----------------------------------------------------------------------------

    def account(self) -> AccountSnapshot:
        account = self._alpaca.read("the account query", self._alpaca.client.get_account)
        return AccountSnapshot(
            equity=as_decimal(account.get("equity")),
            cash=as_decimal(account.get("cash")),
            buying_power=as_decimal(account.get("buying_power")),
            currency=str(account.get("currency") or "USD"),
        )

    def positions(self) -> list[PositionSnapshot]:
        positions = self._alpaca.read("the positions query", self._alpaca.client.get_all_positions)
        return [position_snapshot(p) for p in positions]

    def position(self, symbol: str) -> PositionSnapshot | None:
        raw = self._alpaca.open_position(symbol)
        return position_snapshot(raw) if raw is not None else None

    # --- orders ------------------------------------------------------------------------------

    def submit_bracket(self, request: BracketOrderRequest) -> OrderResult:
        order = self._alpaca.send_once(bracket_order(request), request.client_order_id, "the order")
        order, note = self._await_fill(order)
        return order_result(order, expected_price=request.entry_price, note=note)

    def find_order(self, client_order_id: str) -> OrderResult | None:
        order = self._alpaca.lookup(client_order_id)
        return order_result(order) if order is not None else None

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
        existing = self._alpaca.lookup(client_order_id)
        if existing is not None:  # sent before (a retried step): follow it, send nothing
            order, note = self._await_fill(existing)
            return order_result(order, expected_price=reference_price, note=note)
        position = self._alpaca.open_position(symbol)
        if position is None:
            raise ExecutionError(f"There is no open Alpaca position in {symbol} to close.")
        # Bracket legs, stops and earlier closes still working (queued while the market was
        # shut) hold the shares: Alpaca refuses a closing order for shares promised to working
        # orders ("insufficient qty available"), so they are cancelled first.
        orders = self._alpaca.symbol_orders(symbol)
        closing_side = "sell" if str(position.get("side")) == "long" else "buy"
        holding = [leg for leg, _ in exits(orders) if working(leg)]
        holding += [
            order
            for order in orders
            if not order.get("legs")
            and working(order)
            and order.get("side") == closing_side
            and order.get("type") not in STOP_TYPES  # stand-alone stops are in exits already
        ]
        stops = [leg for leg in holding if leg.get("type") in STOP_TYPES]
        self._cancel_and_confirm(holding)
        # A leg may have filled while it was being cancelled: ask again what is left.
        position = self._alpaca.open_position(symbol)
        if position is None:
            raise ExecutionError(
                f"{symbol} was already closed at Alpaca (an exit order filled first)."
            )
        held = abs(as_int(position.get("qty")))
        closing = min(quantity or held, held)  # never more than held: that would open a short
        side = OrderSide.SELL if str(position.get("side")) == "long" else OrderSide.BUY
        order_request = validated(
            MarketOrderRequest,
            symbol=symbol,
            qty=closing,
            side=side,
            time_in_force=TimeInForce.DAY,
            client_order_id=client_order_id,
        )
        order = self._alpaca.send_once(order_request, client_order_id, "the close order")
        order, note = self._await_fill(order)
        left = held - closing
        if left and stops:
            note = " ".join(
                filter(None, [note, self._protect_rest(symbol, side, left, stops, client_order_id)])
            )
        return order_result(order, expected_price=reference_price, note=note)

    def move_stop(self, symbol: str, stop_price: Decimal) -> None:
        price = tick(Decimal(stop_price))
        last: Transient | None = None
        max_attempts = self._alpaca.max_attempts
        for attempt in range(1, max_attempts + 1):
            try:
                # Listed afresh on every attempt: a replace that reached Alpaca before an error
                # made a new leg already at this price, which is then left alone.
                orders = self._alpaca.symbol_orders(symbol, retry=False)
                stops = [
                    leg
                    for leg, _ in exits(orders)
                    if working(leg) and leg.get("type") in STOP_TYPES
                ]
                if not stops:
                    logger.info("move_stop: no working stop at Alpaca for %s", symbol)
                    return
                for leg in stops:
                    if as_decimal(leg.get("stop_price")) != price:
                        call_once(
                            self._alpaca.client.replace_order_by_id,
                            leg["id"],
                            ReplaceOrderRequest(stop_price=float(price)),
                        )
                return
            except Transient as error:
                last = error
                if attempt < max_attempts:
                    self._alpaca.back_off(attempt, error)
            except Refused as refused:
                raise refusal("the stop move", refused) from None
        raise ExecutionError(
            f"Alpaca did not confirm the stop move for {symbol} after {max_attempts} "
            f"attempts ({last}).",
            retryable=True,
        )

    def exit_fills(self, symbol: str) -> list[OrderResult]:
        fills = []
        for leg, parent in exits(self._alpaca.symbol_orders(symbol)):
            if as_int(leg.get("filled_qty")) <= 0:
                continue
            raw = dict(leg)
            if parent is not None:
                raw["parent_order_id"] = parent.get("id")
                raw["parent_client_order_id"] = parent.get("client_order_id")
            fills.append(order_result(raw))
        return sorted(fills, key=lambda fill: str(fill.raw.get("filled_at") or ""))

    # --- following orders ----------------------------------------------------------------------

    def _polls(self) -> int:
        return math.ceil(self.fill_timeout / self.poll_interval) if self.poll_interval else 1

    def _await_fill(self, order: Order) -> tuple[Order, str]:
        """Poll the order until it settles (filled, cancelled, rejected, expired), a partial fill
        stops growing, or fill_timeout passes. Returns the last state seen and a note."""
        client_order_id = order.get("client_order_id") or ""
        polls_left = self._polls()
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
            self._alpaca.sleep(self.poll_interval)
            polls_left -= 1
            try:
                latest = self._alpaca.find(client_order_id)
            except Transient:
                continue  # keep polling; the order is at Alpaca either way
            except Refused as refused:
                return order, f"Could not follow the order at Alpaca ({refused})."
            if latest is None:
                continue  # just accepted and not yet visible by client id
            progressed = as_int(latest.get("filled_qty")) != as_int(order.get("filled_qty"))
            stalled = 0 if progressed else stalled + 1
            order = latest

    def _cancel_and_confirm(self, orders: list[Order]) -> None:
        """Cancel, then wait until Alpaca confirms: a cancel is asynchronous (pending_cancel) and
        the shares stay held until it completes."""
        for order in orders:
            try:
                self._alpaca.retrying(
                    "the exit order cancellation",
                    self._alpaca.client.cancel_order_by_id,
                    order["id"],
                )
            except Refused as refused:
                if refused.status not in (404, 422):  # 422/404: already filled or cancelled
                    raise refusal("the exit order cancellation", refused) from None
        pending = [order["id"] for order in orders]
        polls_left = self._polls()
        while pending:
            states = [
                self._alpaca.read("the order query", self._alpaca.client.get_order_by_id, order_id)
                for order_id in pending
            ]
            pending = [state["id"] for state in states if working(state)]
            if not pending:
                return
            if polls_left <= 0:
                raise ExecutionError(
                    "Alpaca has not confirmed cancelling the exit orders yet; try again.",
                    retryable=True,
                )
            self._alpaca.sleep(self.poll_interval)
            polls_left -= 1

    def _protect_rest(
        self, symbol: str, side: OrderSide, quantity: int, stops: list[Order], client_order_id: str
    ) -> str:
        """After a partial close, put back a stop on what is left (its bracket legs were
        cancelled to free the shares): the tightest of the old stops."""
        prices = [tick(as_decimal(leg.get("stop_price"))) for leg in stops]
        stop_price = max(prices) if side == OrderSide.SELL else min(prices)
        gtc = any(leg.get("time_in_force") == "gtc" for leg in stops)
        stop_id = f"{client_order_id}{PROTECTIVE_STOP_SUFFIX}"
        try:
            self._alpaca.send_once(
                validated(
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
