"""One Alpaca account through alpaca-py: requests with a timeout, retries with backoff, look-ups
by client order id, and the send that never places an order twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from alpaca.common.enums import Sort
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest, OrderRequest

from config.core import metrics
from trading.executors.alpaca.answers import Order
from trading.executors.alpaca.errors import Refused, Transient, call_once, refusal
from trading.executors.base import ExecutionError

logger = logging.getLogger(__name__)

# Alpaca's largest page for GET /v2/orders; a symbol's recent brackets fit in one.
ORDER_HISTORY_LIMIT = 500
# Longest wait between attempts, whatever Retry-After asks for: a worker must not sleep for
# minutes; the order stays looked-up-before-resend, so giving up early is safe.
MAX_WAIT_SECONDS = 60.0


class _TimeoutSession(requests.Session):
    """alpaca-py sends every request without a timeout; a broker that never answers would hold
    a worker forever. This session gives each request one."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


class AlpacaConnection:
    """alpaca-py's TradingClient for one account, with the retry policy this app owns."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        paper: bool,
        url_override: str | None,
        max_attempts: int,
        backoff: float,
        sleep: Callable[[float], None],
        request_timeout: float,
    ):
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep
        try:
            self.client = TradingClient(
                api_key, api_secret, paper=paper, raw_data=True, url_override=url_override or None
            )
        except ValueError:
            raise ExecutionError(
                "The Alpaca connection needs both an API key and a secret key."
            ) from None
        # alpaca-py retries 429 and 504 on its own, sleeping 3 s between tries and knowing
        # nothing of the look-up-before-resend rule below; only this class may resend.
        self.client._retry = 0
        self.client._session.close()
        self.client._session = _TimeoutSession(request_timeout)

    def back_off(self, attempt: int, error: Transient) -> None:
        """Count the retry and sleep before the next attempt (the server's wait, else backoff)."""
        metrics.broker_retry(broker="alpaca")
        if error.wait is not None:
            self.sleep(min(max(error.wait, 0.0), MAX_WAIT_SECONDS))
        else:
            self.sleep(min(self.backoff * 2 ** (attempt - 1), MAX_WAIT_SECONDS))

    def retrying(self, what: str, call: Callable[..., Any], *args: Any) -> Any:
        """A read (or an idempotent write): retried with backoff; Refused passes through."""
        last: Transient | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                return call_once(call, *args)
            except Transient as error:
                last = error
                if attempt < self.max_attempts:
                    self.back_off(attempt, error)
        raise ExecutionError(
            f"Alpaca did not answer {what} after {self.max_attempts} attempts ({last}).",
            retryable=True,
        )

    def read(self, what: str, call: Callable[..., Any], *args: Any) -> Any:
        """A retried read whose refusal is told as an ExecutionError."""
        try:
            return self.retrying(what, call, *args)
        except Refused as refused:
            raise refusal(what, refused) from None

    def find(self, client_order_id: str) -> Order | None:
        """One look-up by client id; None when Alpaca has no such order (404)."""
        try:
            return call_once(self.client.get_order_by_client_id, client_order_id)
        except Refused as refused:
            if refused.status == 404:
                return None
            raise

    def lookup(self, client_order_id: str) -> Order | None:
        """The order under `client_order_id`, looked up with retries; None when there is none."""
        try:
            return self.retrying("the order look-up", self.find, client_order_id)
        except Refused as refused:
            raise refusal("the order look-up", refused) from None

    def open_position(self, symbol: str) -> dict | None:
        """Alpaca's open position in `symbol`, None when flat."""
        try:
            return self.retrying("the position query", self.client.get_open_position, symbol)
        except Refused as refused:
            if refused.status == 404:  # "position does not exist": flat
                return None
            raise refusal("the position query", refused) from None

    def symbol_orders(self, symbol: str, *, retry: bool = True) -> list[Order]:
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
            return call_once(self.client.get_orders, request)
        return self.read("the order list", self.client.get_orders, request)

    def send_once(self, order_request: OrderRequest, client_order_id: str, what: str) -> Order:
        """The order Alpaca holds under `client_order_id`, sending `order_request` only when it
        holds none. Before the first send (an earlier run may have sent it) and before every
        resend (an attempt that failed for us may have reached Alpaca) the id is looked up, so
        a retry never places a second order."""
        last: Transient | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                existing = self.find(client_order_id)
                if existing is not None:
                    return existing
                return call_once(self.client.submit_order, order_request)
            except Transient as error:
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
                    self.back_off(attempt, error)
            except Refused as refused:
                if refused.status == 422 and "client_order_id" in refused.message:
                    # "client_order_id must be unique": a send we never heard back from got
                    # through between our look-up and this attempt.
                    existing = self.lookup(client_order_id)
                    if existing is not None:
                        return existing
                raise refusal(what, refused) from None
        raise ExecutionError(
            f"Alpaca did not confirm {what} after {self.max_attempts} attempts ({last}). It may "
            "still have arrived; it is looked up by its id before any resend.",
            retryable=True,
        )
