"""Subscriptions through Stripe (spec §19): Checkout to upgrade, the Customer Portal for cards,
invoices, cancellation and downgrades, webhooks that change the tier, and usage fees reported
to a Stripe billing meter.

The stripe SDK is used directly (not dj-stripe): dj-stripe 2.11 does resolve on Django 6, but it
mirrors every Stripe object into ~60 tables by calling the API back on each webhook, while the
product needs four facts per user (customer, subscription, tier, period end). Webhooks are
verified by their signature, applied once per event id, and an event older than the last one
applied to a subscription changes nothing.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from billing.hooks import plan_changed
from billing.models import (
    DailyCost,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
    UsageReport,
)
from billing.plans import TIERS, plan, tier_for_price
from config.core.errors import Conflict


class BillingUnavailable(Conflict):
    """Stripe is not configured on this installation (or did not answer)."""


def stripe_client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise BillingUnavailable(
            "Payments are not set up on this installation (STRIPE_SECRET_KEY is empty)."
        )
    base = settings.STRIPE_API_BASE
    addresses = {"api": base, "files": base, "connect": base, "meter_events": base} if base else {}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses=addresses)


def _customer_for(owner: User, client: stripe.StripeClient) -> Subscription:
    subscription = Subscription.objects.filter(owner=owner).first()
    if subscription is not None:
        return subscription
    customer = client.v1.customers.create(
        {"email": owner.email, "name": owner.full_name, "metadata": {"owner_id": str(owner.pk)}},
        {"idempotency_key": f"customer-{owner.pk}"},
    )
    subscription, _ = Subscription.objects.get_or_create(
        owner=owner, defaults={"stripe_customer_id": customer.id, "tier": owner.subscription_tier}
    )
    return subscription


def checkout_start(*, owner: User, tier: str, success_url: str, cancel_url: str) -> str:
    """A Stripe Checkout session for `tier`; the URL to send the trader to."""
    tier = tier.upper()
    chosen = plan(tier) if tier in TIERS else None
    if chosen is None or chosen.tier == "FREE":
        raise Conflict("Choose a paid plan: Basic, Pro or Enterprise.")
    if not chosen.stripe_price_id:
        raise BillingUnavailable(f"The {chosen.name} plan has no Stripe price configured.")
    client = stripe_client()
    try:
        customer = _customer_for(owner, client)
        session = client.v1.checkout.sessions.create(
            {
                "mode": "subscription",
                "customer": customer.stripe_customer_id,
                "line_items": _line_items(chosen.stripe_price_id),
                "success_url": success_url,
                "cancel_url": cancel_url,
                "client_reference_id": str(owner.pk),
                "metadata": {"owner_id": str(owner.pk), "tier": chosen.tier},
                "subscription_data": {"metadata": {"owner_id": str(owner.pk)}},
            }
        )
    except stripe.StripeError as error:
        raise BillingUnavailable(f"Stripe could not start the checkout: {error}") from None
    return session.url


def _line_items(plan_price_id: str) -> list[dict[str, Any]]:
    """The plan's price, and the usage fees' metered price (no quantity: the meter's events
    make it) when one is configured — without it, reported usage would never be invoiced."""
    items: list[dict[str, Any]] = [{"price": plan_price_id, "quantity": 1}]
    if settings.STRIPE_PRICE_USAGE:
        items.append({"price": settings.STRIPE_PRICE_USAGE})
    return items


def portal_start(*, owner: User, return_url: str) -> str:
    """A Customer Portal session (cards, invoices, cancel, downgrade); its URL."""
    subscription = Subscription.objects.filter(owner=owner).first()
    if subscription is None:
        raise Conflict("There is no subscription to manage yet: choose a plan first.")
    client = stripe_client()
    try:
        session = client.v1.billing_portal.sessions.create(
            {"customer": subscription.stripe_customer_id, "return_url": return_url}
        )
    except stripe.StripeError as error:
        raise BillingUnavailable(f"Stripe could not open the portal: {error}") from None
    return session.url


def invoice_preview(*, owner: User) -> dict[str, Any] | None:
    """Stripe's preview of the owner's next invoice (None without a subscription): its total,
    the plan's part and the usage fees' part in dollars, and the period it covers."""
    subscription = Subscription.objects.filter(owner=owner).first()
    if subscription is None or not subscription.stripe_subscription_id:
        return None
    client = stripe_client()
    try:
        invoice = client.v1.invoices.create_preview(
            {
                "customer": subscription.stripe_customer_id,
                "subscription": subscription.stripe_subscription_id,
            }
        )
    except stripe.StripeError as error:
        raise BillingUnavailable(f"Stripe could not preview the next invoice: {error}") from None
    usage_cents = sum(
        line.amount for line in invoice.lines.data if _price_of(line) == settings.STRIPE_PRICE_USAGE
    )
    return {
        "total": Decimal(invoice.total) / 100,
        "usage": Decimal(usage_cents) / 100,
        "plan": Decimal(invoice.total - usage_cents) / 100,
        "period_start": datetime.fromtimestamp(invoice.period_start, tz=UTC),
        "period_end": datetime.fromtimestamp(invoice.period_end, tz=UTC),
    }


def _price_of(line: Any) -> str | None:
    details = line.pricing.price_details if line.pricing is not None else None
    if details is None:
        return None
    return details.price if isinstance(details.price, str) else details.price.id


# --- Webhooks ---------------------------------------------------------------------------------


class WebhookRejected(Exception):
    """Not a genuine, well-formed Stripe event: answered 400, nothing changes."""


def webhook_receive(*, payload: bytes, signature: str | None) -> str:
    """Verify and apply one webhook event; what happened ("applied", "duplicate", "stale",
    "ignored"). WebhookRejected when the signature or the body is wrong."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookRejected("STRIPE_WEBHOOK_SECRET is not set: events cannot be verified.")
    try:
        stripe.WebhookSignature.verify_header(payload.decode(), signature or "", secret, 300)
        event = json.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
        created = datetime.fromtimestamp(int(event["created"]), tz=UTC)
        obj = event["data"]["object"]
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError) as error:
        raise WebhookRejected(f"Rejected: {error}") from None
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(
                    event_id=event_id, event_type=event_type, created=created
                )
        except IntegrityError:
            return "duplicate"
        outcome = _apply(event_type, obj, created)
        if outcome != "applied":
            record.applied = False
            record.save(update_fields=["applied"])
    return outcome


def _subscription_of(obj: dict[str, Any]) -> Subscription | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if not customer:
        return None
    return Subscription.objects.select_for_update().filter(stripe_customer_id=customer).first()


def _apply(event_type: str, obj: dict[str, Any], created: datetime) -> str:
    subscription = _subscription_of(obj)
    if subscription is None:
        return "ignored"
    if subscription.last_event_created and created < subscription.last_event_created:
        return "stale"  # an older event arriving after a newer one
    owner = subscription.owner
    now = timezone.now()
    was = subscription.status
    if event_type == "checkout.session.completed":
        tier = str((obj.get("metadata") or {}).get("tier") or "").upper()
        if tier not in TIERS:
            return "ignored"
        subscription.stripe_subscription_id = str(obj.get("subscription") or "")
        subscription.tier, subscription.status = tier, SubscriptionStatus.ACTIVE
    elif event_type in ("customer.subscription.created", "customer.subscription.updated"):
        items = (obj.get("items") or {}).get("data") or []
        price = items[0].get("price", {}).get("id") if items else None
        tier = tier_for_price(price or "") or subscription.tier
        subscription.stripe_subscription_id = str(obj.get("id") or "")
        subscription.tier = tier
        period_end = obj.get("current_period_end") or (
            items[0].get("current_period_end") if items else None
        )
        if period_end:
            subscription.expires_at = datetime.fromtimestamp(int(period_end), tz=UTC)
        if obj.get("status") == "past_due":
            _past_due(subscription, now)
        elif obj.get("status") in ("active", "trialing"):
            subscription.status, subscription.grace_until = SubscriptionStatus.ACTIVE, None
    elif event_type == "customer.subscription.deleted":
        subscription.tier, subscription.status = "FREE", SubscriptionStatus.CANCELED
        subscription.grace_until = None
    elif event_type == "invoice.payment_failed":
        _past_due(subscription, now)
    elif event_type in ("invoice.paid", "invoice.payment_succeeded"):
        subscription.status, subscription.grace_until = SubscriptionStatus.ACTIVE, None
    else:
        return "ignored"
    subscription.last_event_created = created
    changed = (subscription.tier, subscription.status) != (owner.subscription_tier, was)
    subscription.save()
    if owner.subscription_tier != subscription.tier:
        owner.subscription_tier = subscription.tier
        owner.save(update_fields=["subscription_tier"])
    if changed:
        _tell_signal_dispatchers(owner)
    return "applied"


def _tell_signal_dispatchers(owner: User) -> None:
    """The signal buckets the owner's pipelines may hear follow the tier: after commit, the
    signals app (billing.hooks.plan_changed) has its dispatchers re-read those pipelines
    instead of at their next periodic rebuild (which is also what picks up a grace period
    running out, an event nobody sends)."""
    transaction.on_commit(lambda: plan_changed.send(sender=None, owner=owner))


def _past_due(subscription: Subscription, now: datetime) -> None:
    subscription.status = SubscriptionStatus.PAST_DUE
    if subscription.grace_until is None:
        subscription.grace_until = now + timedelta(days=settings.BILLING_GRACE_DAYS)


# --- Usage fees (§19.3) -------------------------------------------------------------------------


def usage_cents(*, owner: User, day: date) -> int:
    """The owner's agent-time and token fees of `day`, in whole cents (rounded up)."""
    total = DailyCost.objects.filter(owner=owner, day=day).aggregate(total=Sum("total_cost"))[
        "total"
    ] or Decimal(0)
    return math.ceil(total * 100)


def usage_cents_this_month(*, owner: User, today: date) -> int:
    """What the meter is sent for this month so far: each day's fees in whole cents, rounded
    up per day as the daily reports are (so the invoice's usage line equals this)."""
    totals = (
        DailyCost.objects.filter(owner=owner, day__gte=today.replace(day=1), day__lte=today)
        .values("day")
        .annotate(total=Sum("total_cost"))
    )
    return sum(math.ceil(row["total"] * 100) for row in totals if row["total"] > 0)


def usage_report(*, owner: User, day: date, client: stripe.StripeClient | None = None) -> bool:
    """Report `day`'s usage fees to the Stripe meter once: the UsageReport row is written first
    and its identifier is Stripe's idempotency key, so a retry or a second beat sends nothing
    new. True when something was reported."""
    subscription = Subscription.objects.filter(owner=owner).first()
    if subscription is None:
        return False
    cents = usage_cents(owner=owner, day=day)
    if cents <= 0:
        return False
    report, _ = UsageReport.objects.get_or_create(
        owner=owner,
        day=day,
        defaults={"cents": cents, "identifier": f"usage-{owner.pk}-{day.isoformat()}"},
    )
    if report.reported_at is not None:
        return False
    client = client or stripe_client()
    client.v1.billing.meter_events.create(
        {
            "event_name": settings.STRIPE_USAGE_METER_EVENT,
            "identifier": report.identifier,
            "timestamp": int(datetime.combine(day, datetime.min.time(), UTC).timestamp()),
            "payload": {
                "stripe_customer_id": subscription.stripe_customer_id,
                "value": str(report.cents),
            },
        },
        {"idempotency_key": report.identifier},
    )
    UsageReport.objects.filter(pk=report.pk, reported_at__isnull=True).update(
        reported_at=timezone.now()
    )
    return True


def usage_report_day(*, day: date) -> int:
    """Report `day` for every subscribed owner; how many reports went out."""
    client = stripe_client()
    sent = 0
    for subscription in Subscription.objects.select_related("owner"):
        try:
            sent += usage_report(owner=subscription.owner, day=day, client=client)
        except stripe.StripeError:
            continue  # the next beat retries; the identifier keeps it from counting twice
    return sent
