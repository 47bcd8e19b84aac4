"""A loopback fake of the parts of Stripe's API billing uses, for the real stripe SDK.

Point the SDK at `fake.url` (STRIPE_API_BASE). It serves customers, Checkout sessions, Customer
Portal sessions, billing meter events (deduplicated by `identifier`, as Stripe does) and invoice
previews (the plan's price plus the metered price times the meter's events in the period), and it
signs webhook events with the endpoint secret exactly as Stripe does (`Stripe-Signature:
t=…,v1=HMAC-SHA256(secret, "t.payload")`), so the app's verification is exercised for real.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response


def _form(request: RecordedRequest) -> dict[str, str]:
    """The SDK's form encoding, flattened: metadata[tier]=PRO → {"metadata[tier]": "PRO"}."""
    return dict(parse_qsl(request.body.decode(), keep_blank_values=True))


# The prices the tests configure (STRIPE_PRICE_*), in cents; the metered one is per unit of the
# meter (a cent of usage fees), and counts the events of its meter.
PRICES: dict[str, dict[str, Any]] = {
    "price_basic": {"unit_amount": 2900},
    "price_pro": {"unit_amount": 9900},
    "price_enterprise": {"unit_amount": 29900},
    "price_usage": {"unit_amount": 1, "meter_event": "tradecrew_usage_cents"},
}


class FakeStripe(FakeHTTPServer):
    def __init__(self, *, api_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake"):  # noqa: S107 - a fake's test secret
        super().__init__()
        self.prices = dict(PRICES)
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self._ids = itertools.count(1)
        self.customers: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: list[dict[str, Any]] = []
        self.meter_events: dict[str, dict[str, Any]] = {}  # identifier → event
        self.meter_event_posts = 0
        self.add_route("POST", r"/v1/customers$", self._customer_create)
        self.add_route("POST", r"/v1/checkout/sessions$", self._checkout_create)
        self.add_route("POST", r"/v1/billing_portal/sessions$", self._portal_create)
        self.add_route("POST", r"/v1/billing/meter_events$", self._meter_event)
        self.add_route("POST", r"/v1/invoices/create_preview$", self._invoice_preview)
        # The hosted pages a browser is sent to.
        self.add_route("GET", r"/(?P<kind>pay|portal)/(?P<session_id>\w+)$", self._hosted_page)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _denied(self, request: RecordedRequest) -> Response | None:
        if request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        error = {"type": "invalid_request_error", "message": "Invalid API Key provided"}
        return Response(401, {"error": error})

    # --- API ---------------------------------------------------------------------------------

    def _customer_create(self, request: RecordedRequest) -> Response:
        if denied := self._denied(request):
            return denied
        form = _form(request)
        customer = {"id": self._id("cus"), "object": "customer", "email": form.get("email")}
        self.customers[customer["id"]] = customer
        return Response(200, customer)

    def _checkout_create(self, request: RecordedRequest) -> Response:
        if denied := self._denied(request):
            return denied
        form = _form(request)
        session_id = self._id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "customer": form.get("customer"),
            "price": form.get("line_items[0][price]"),
            "prices": [
                value
                for key, value in sorted(form.items())
                if key.startswith("line_items[") and key.endswith("][price]")
            ],
            "metadata": {
                key[len("metadata[") : -1]: value
                for key, value in form.items()
                if key.startswith("metadata[")
            },
            "success_url": form.get("success_url"),
            "url": f"{self.url}/pay/{session_id}",
        }
        if session["customer"] not in self.customers:
            return Response(400, {"error": {"message": "No such customer"}})
        self.checkout_sessions[session_id] = session
        return Response(200, session)

    def _portal_create(self, request: RecordedRequest) -> Response:
        if denied := self._denied(request):
            return denied
        form = _form(request)
        if form.get("customer") not in self.customers:
            return Response(400, {"error": {"message": "No such customer"}})
        session_id = self._id("bps")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "customer": form["customer"],
            "return_url": form.get("return_url"),
            "url": f"{self.url}/portal/{session_id}",
        }
        self.portal_sessions.append(session)
        return Response(200, session)

    def _meter_event(self, request: RecordedRequest) -> Response:
        if denied := self._denied(request):
            return denied
        self.meter_event_posts += 1
        form = _form(request)
        identifier = form.get("identifier") or self._id("mev")
        event = {
            "object": "billing.meter_event",
            "event_name": form.get("event_name"),
            "identifier": identifier,
            "payload": {
                "stripe_customer_id": form.get("payload[stripe_customer_id]"),
                "value": form.get("payload[value]"),
            },
            "timestamp": int(form.get("timestamp") or time.time()),
        }
        self.meter_events.setdefault(identifier, event)  # a duplicate identifier counts once
        return Response(200, self.meter_events[identifier])

    def _invoice_preview(self, request: RecordedRequest) -> Response:
        """The upcoming invoice of a subscription: each price's line for the current period; a
        metered price bills the sum of its meter's events for the customer in that period."""
        if denied := self._denied(request):
            return denied
        form = _form(request)
        subscription = self.subscriptions.get(form.get("subscription", ""))
        if subscription is None or subscription["customer"] != form.get("customer"):
            return Response(400, {"error": {"message": "No such subscription"}})
        start, end = subscription["current_period_start"], subscription["current_period_end"]
        lines = []
        for item in subscription["items"]["data"]:
            price_id = item["price"]["id"]
            price = self.prices[price_id]
            quantity = 1
            if "meter_event" in price:
                quantity = sum(
                    int(event["payload"]["value"])
                    for event in self.meter_events.values()
                    if event["event_name"] == price["meter_event"]
                    and event["payload"]["stripe_customer_id"] == subscription["customer"]
                    and start <= event["timestamp"] < end
                )
            lines.append(
                {
                    "object": "line_item",
                    # The API's current shape (the price moved under pricing in 2025).
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": price_id, "product": f"prod_{price_id}"},
                    },
                    "quantity": quantity,
                    "amount": quantity * price["unit_amount"],
                    "period": {"start": start, "end": end},
                }
            )
        total = sum(line["amount"] for line in lines)
        invoice = {
            "object": "invoice",
            "customer": subscription["customer"],
            "subscription": subscription["id"],
            "currency": "usd",
            "period_start": start,
            "period_end": end,
            "lines": {"object": "list", "data": lines, "has_more": False},
            "subtotal": total,
            "total": total,
            "amount_due": total,
        }
        return Response(200, invoice)

    def _hosted_page(self, request: RecordedRequest, kind: str, session_id: str) -> Response:
        title = "Checkout" if kind == "pay" else "Customer portal"
        html = f"<!doctype html><title>Fake Stripe {title}</title><h1>Fake Stripe {title}</h1>"
        return Response(200, html + f"<p id=session>{session_id}</p>", content_type="text/html")

    # --- Webhooks ----------------------------------------------------------------------------

    def signed(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        created: int | None = None,
        event_id: str | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, str]:
        """A webhook event's body and its Stripe-Signature header."""
        event = {
            "id": event_id or self._id("evt"),
            "object": "event",
            "type": event_type,
            "created": created if created is not None else int(time.time()),
            "data": {"object": obj},
        }
        payload = json.dumps(event).encode()
        timestamp = int(time.time())
        digest = hmac.new(
            (secret or self.webhook_secret).encode(),
            f"{timestamp}.{payload.decode()}".encode(),
            hashlib.sha256,
        ).hexdigest()
        return payload, f"t={timestamp},v1={digest}"

    def complete_checkout(
        self,
        session_id: str,
        *,
        period_end: int,
        created: int | None = None,
        period_start: int | None = None,
    ) -> list[tuple[bytes, str]]:
        """What Stripe sends once the customer pays: the session completed and the
        subscription created (both signed); the subscription is kept for invoice previews."""
        session = self.checkout_sessions[session_id]
        subscription_id = self._id("sub")
        completed = {**session, "subscription": subscription_id, "status": "complete"}
        subscription = {
            "id": subscription_id,
            "object": "subscription",
            "customer": session["customer"],
            "status": "active",
            "current_period_start": period_start if period_start is not None else int(time.time()),
            "current_period_end": period_end,
            "items": {"data": [{"price": {"id": price}} for price in session["prices"]]},
        }
        self.subscriptions[subscription_id] = subscription
        return [
            self.signed("checkout.session.completed", completed, created=created),
            self.signed("customer.subscription.created", subscription, created=created),
        ]
