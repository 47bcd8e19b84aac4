"""Subscriptions: the effective plan, tier limits, Checkout → signed webhook → upgrade, the
Portal, forged/replayed/out-of-order webhooks, the grace period, and usage reported once — all
through the real stripe SDK against the loopback fake (tests/fakes/stripe.py)."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import user_today
from billing.models import CostEntry, DailyCost, StripeEvent, Subscription, SubscriptionStatus
from billing.selectors import effective_plan
from billing.services import charge_record, step_charge
from billing.subscriptions import invoice_preview, usage_cents_this_month, usage_report_day
from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import PipelineStatus, RunMode
from tests.fakes.stripe import FakeStripe

pytestmark = pytest.mark.django_db

WEBHOOK = "/billing/stripe/webhook/"
HOURS_15 = timedelta(hours=15)


@pytest.fixture
def stripe_fake(settings):
    with FakeStripe() as fake:
        settings.STRIPE_SECRET_KEY = fake.api_key
        settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_PRICE_BASIC = "price_basic"
        settings.STRIPE_PRICE_PRO = "price_pro"
        settings.STRIPE_PRICE_ENTERPRISE = "price_enterprise"
        settings.ENFORCE_SUBSCRIPTION_LIMITS = True
        yield fake
        assert fake.errors == []


def post_event(client, payload: bytes, signature: str):
    return client.post(
        WEBHOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def pipelines(owner, count: int, *, active: int = 0):
    """`count` on-signal pipelines of a Free-plan owner, the first `active` of them active (a
    run-once pipeline is never made active: activating it runs it once)."""
    owner.subscription_tier = "FREE"
    owner.save()
    made = [
        pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")[0] for _ in range(count)
    ]
    for number, pipeline in enumerate(made):
        pipeline.run_mode = RunMode.RUN_ON_SIGNAL
        if number < active:
            pipeline.status = PipelineStatus.ACTIVE
        pipeline.save()
    return made


def test_it_shows_one_effective_plan_everywhere_when_limits_are_off(owner_client, owner, settings):
    settings.ENFORCE_SUBSCRIPTION_LIMITS = False
    settings.DEFAULT_SUBSCRIPTION_TIER = "ENTERPRISE"
    owner.subscription_tier = "FREE"
    owner.save()
    current = effective_plan(user=owner)
    assert current.tier == "ENTERPRISE" and not current.enforced
    settings_page = owner_client.get(reverse("accounts:settings")).content.decode()
    billing_page = owner_client.get(reverse("billing:overview")).content.decode()
    for page in (settings_page, billing_page):
        assert "Enterprise plan" in page and "Free plan" not in page
        assert "not enforced on this installation" in page


def test_it_refuses_an_activation_past_the_plans_limit_with_an_upgrade_prompt(
    api, owner, owner_client, settings
):
    settings.ENFORCE_SUBSCRIPTION_LIMITS = True
    *_, third = pipelines(owner, 3, active=2)

    response = api.post(f"/api/v1/pipelines/{third.pk}/activate")
    assert response.status_code == 402
    assert response.json()["detail"].startswith("Your Free plan allows 2 active pipelines")
    assert response.json()["upgrade_url"] == "/billing/"
    third.refresh_from_db()
    assert third.status != PipelineStatus.ACTIVE

    page = owner_client.post(reverse("pipelines:activate", args=[third.pk]), follow=True)
    body = page.content.decode()
    assert "Your Free plan allows 2 active pipelines" in body and 'href="/billing/"' in body
    billing = owner_client.get(reverse("billing:overview")).content.decode()
    assert 'data-testid="upgrade-prompt"' in billing and "2/2" in billing


def test_it_upgrades_after_checkout_and_a_signed_webhook_and_raises_the_limit(
    api, owner, owner_client, client, stripe_fake
):
    *_, third = pipelines(owner, 3, active=2)

    response = owner_client.post(reverse("billing:checkout"), {"tier": "PRO"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{stripe_fake.url}/pay/cs_")
    session_id = response["Location"].rsplit("/", 1)[1]
    session = stripe_fake.checkout_sessions[session_id]
    assert session["price"] == "price_pro" and session["mode"] == "subscription"

    period_end = int(time.time()) + 30 * 86400
    for payload, signature in stripe_fake.complete_checkout(session_id, period_end=period_end):
        assert post_event(client, payload, signature).status_code == 200

    owner.refresh_from_db()
    assert owner.subscription_tier == "PRO"
    subscription = Subscription.objects.get(owner=owner)
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert int(subscription.expires_at.timestamp()) == period_end
    assert api.post(f"/api/v1/pipelines/{third.pk}/activate").status_code == 200


def test_it_opens_a_portal_session_for_a_customer(owner, owner_client, stripe_fake):
    assert owner_client.post(reverse("billing:portal")).status_code == 302  # none yet: a message
    assert stripe_fake.portal_sessions == []
    owner_client.post(reverse("billing:checkout"), {"tier": "BASIC"})

    response = owner_client.post(reverse("billing:portal"))

    assert response["Location"].startswith(f"{stripe_fake.url}/portal/bps_")
    (session,) = stripe_fake.portal_sessions
    assert session["customer"] == Subscription.objects.get(owner=owner).stripe_customer_id
    assert session["return_url"].endswith("/billing/")


def test_it_rejects_forged_and_ignores_replayed_and_stale_webhooks(
    owner, owner_client, client, stripe_fake
):
    owner_client.post(reverse("billing:checkout"), {"tier": "PRO"})
    session_id = next(iter(stripe_fake.checkout_sessions))
    now = int(time.time())
    events = stripe_fake.complete_checkout(session_id, period_end=now + 86400, created=now)
    for payload, signature in events:
        post_event(client, payload, signature)
    customer = Subscription.objects.get(owner=owner).stripe_customer_id
    applied = StripeEvent.objects.count()

    # Forged: signed with the wrong secret, or not signed at all.
    deleted = {"id": "sub_x", "object": "subscription", "customer": customer, "status": "canceled"}
    forged = stripe_fake.signed("customer.subscription.deleted", deleted, secret="whsec_wrong")
    assert post_event(client, *forged).status_code == 400
    unsigned = client.post(WEBHOOK, forged[0], content_type="application/json")
    assert unsigned.status_code == 400
    # Replayed: the same event id again.
    replay = post_event(client, *events[0])
    assert replay.status_code == 200 and replay.content == b"duplicate"
    # Out of order: a cancellation created before the events already applied.
    stale = stripe_fake.signed("customer.subscription.deleted", deleted, created=now - 60)
    assert post_event(client, *stale).content == b"stale"

    owner.refresh_from_db()
    assert owner.subscription_tier == "PRO"
    assert Subscription.objects.get(owner=owner).status == SubscriptionStatus.ACTIVE
    assert StripeEvent.objects.filter(applied=True).count() == applied


def test_it_keeps_the_plan_through_the_grace_period_after_a_failed_payment(
    owner, owner_client, client, stripe_fake, settings
):
    settings.BILLING_GRACE_DAYS = 7
    owner_client.post(reverse("billing:checkout"), {"tier": "PRO"})
    session_id = next(iter(stripe_fake.checkout_sessions))
    for event in stripe_fake.complete_checkout(session_id, period_end=int(time.time()) + 86400):
        post_event(client, *event)
    customer = Subscription.objects.get(owner=owner).stripe_customer_id

    failed = stripe_fake.signed(
        "invoice.payment_failed", {"id": "in_1", "object": "invoice", "customer": customer}
    )
    assert post_event(client, *failed).status_code == 200

    subscription = Subscription.objects.get(owner=owner)
    assert subscription.status == SubscriptionStatus.PAST_DUE
    owner.refresh_from_db()
    assert effective_plan(user=owner).tier == "PRO"  # within the grace period
    after_grace = timezone.now() + timedelta(days=8)
    lapsed = effective_plan(user=owner, now=after_grace)
    assert lapsed.tier == "FREE" and "grace period ended" in lapsed.explanation

    paid = stripe_fake.signed(
        "invoice.paid", {"id": "in_1", "object": "invoice", "customer": customer}
    )
    post_event(client, *paid)
    assert effective_plan(user=owner, now=after_grace).tier == "PRO"


def signal_types_heard(pipeline) -> set[str]:
    """What the signal dispatcher's index lets `pipeline` hear (its full rebuild's rows)."""
    from signals.selectors import signal_pipeline_rows

    rows = [row for row in signal_pipeline_rows() if row.pipeline_id == str(pipeline.pk)]
    return {signal_type for row in rows for signal_type, _ in row.subscriptions}


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_signal_buckets_through_the_grace_period_and_no_longer(
    owner, owner_client, client, stripe_fake, settings
):
    settings.BILLING_GRACE_DAYS = 7
    (pipeline,) = pipelines(owner, 1, active=1)
    pipeline.symbols = ["AAPL"]
    pipeline.signal_subscriptions = [
        {"signal_type": "webhook", "min_confidence": 0},  # Free
        {"signal_type": "golden_cross", "min_confidence": 0},  # Basic
    ]
    pipeline.save()
    assert signal_types_heard(pipeline) == {"webhook"}  # Free plan

    owner_client.post(reverse("billing:checkout"), {"tier": "BASIC"})
    session_id = next(iter(stripe_fake.checkout_sessions))
    for event in stripe_fake.complete_checkout(session_id, period_end=int(time.time()) + 86400):
        post_event(client, *event)
    assert signal_types_heard(pipeline) == {"webhook", "golden_cross"}

    customer = Subscription.objects.get(owner=owner).stripe_customer_id
    failed = stripe_fake.signed(
        "invoice.payment_failed", {"id": "in_1", "object": "invoice", "customer": customer}
    )
    assert post_event(client, *failed).status_code == 200
    # Within the grace period the dispatcher, like every page, keeps the Basic plan's buckets.
    owner.refresh_from_db()
    assert effective_plan(user=owner).tier == "BASIC"
    assert signal_types_heard(pipeline) == {"webhook", "golden_cross"}

    # Once it has run out, the dispatcher drops them, as effective_plan does.
    Subscription.objects.filter(owner=owner).update(
        grace_until=timezone.now() - timedelta(minutes=1)
    )
    assert effective_plan(user=owner).tier == "FREE"
    assert signal_types_heard(pipeline) == {"webhook"}

    # With limits off, everyone has DEFAULT_SUBSCRIPTION_TIER, lapsed or not.
    settings.ENFORCE_SUBSCRIPTION_LIMITS = False
    settings.DEFAULT_SUBSCRIPTION_TIER = "BASIC"
    assert effective_plan(user=owner).tier == "BASIC"
    assert signal_types_heard(pipeline) == {"webhook", "golden_cross"}


def test_it_reports_usage_to_the_meter_once_per_period(owner, owner_client, stripe_fake):
    owner_client.post(reverse("billing:checkout"), {"tier": "BASIC"})
    day = date(2026, 11, 24)
    DailyCost.objects.create(owner=owner, pipeline_id=None, day=day, total_cost=Decimal("1.2345"))

    assert usage_report_day(day=day) == 1
    assert usage_report_day(day=day) == 0  # the next beat: already reported

    (event,) = stripe_fake.meter_events.values()
    assert event["payload"]["value"] == "124"  # $1.2345 → 124 cents, rounded up
    assert event["payload"]["stripe_customer_id"] == owner.subscription.stripe_customer_id
    assert stripe_fake.meter_event_posts == 1


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def test_it_previews_an_invoice_that_equals_the_ledger_for_the_period(
    owner, owner_client, client, stripe_fake, settings
):
    settings.STRIPE_PRICE_USAGE = "price_usage"
    today = user_today(owner)
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    owner_client.post(reverse("billing:checkout"), {"tier": "BASIC"})
    session_id = next(iter(stripe_fake.checkout_sessions))
    # The subscription carries the plan and the usage fees' metered price.
    assert stripe_fake.checkout_sessions[session_id]["prices"] == ["price_basic", "price_usage"]
    for event in stripe_fake.complete_checkout(
        session_id,
        period_start=int(utc_midnight(month_start).timestamp()),
        period_end=int(utc_midnight(next_month).timestamp()),
    ):
        assert post_event(client, *event).status_code == 200

    # The ledger: runtime charges on each day of the period so far, and on the day before it
    # (the last period's: not on this invoice). Written by the ledger's own writer.
    period_days = [month_start + timedelta(days=n) for n in range((today - month_start).days + 1)]
    for number, day in enumerate([month_start - timedelta(days=1), *period_days]):
        for seconds in (12_345.6, 777.7 * (number + 1)):
            charge = step_charge(
                owner_id=owner.pk,
                pipeline_id=None,
                execution_id=None,
                agent_id="node-3",
                agent_type="bias_agent",
                pricing_rate=Decimal("0.10"),
                runtime_seconds=seconds,
            )
            charge_record(charge, owner=owner, pipeline_id=None, at=utc_midnight(day) + HOURS_15)

    # The beat reports each day once; a second pass sends nothing new.
    for day in [month_start - timedelta(days=1), *period_days]:
        assert usage_report_day(day=day) == 1
        assert usage_report_day(day=day) == 0
    assert stripe_fake.meter_event_posts == len(period_days) + 1

    preview = invoice_preview(owner=owner)

    ledger = CostEntry.objects.filter(
        owner=owner,
        created_at__gte=utc_midnight(month_start),
        created_at__lt=utc_midnight(next_month),
    ).aggregate(total=Sum("total_cost"))["total"]
    by_day = DailyCost.objects.filter(owner=owner, day__gte=month_start).values("day")
    day_totals = [row["total"] for row in by_day.annotate(total=Sum("total_cost"))]
    assert sum(day_totals) == ledger  # the roll-up and the ledger agree
    # The usage line is the period's ledger, each day in whole cents rounded up (as reported).
    cents = sum(math.ceil(total * 100) for total in day_totals)
    assert preview["usage"] == Decimal(cents) / 100
    assert ledger <= preview["usage"] < ledger + Decimal("0.01") * len(period_days)
    assert preview["plan"] == Decimal("29") and preview["total"] == 29 + preview["usage"]
    # The Billing page shows Stripe's preview, and the app's own count agrees with it.
    assert usage_cents_this_month(owner=owner, today=today) == cents
    page = owner_client.get(reverse("billing:overview")).content.decode()
    assert f'data-testid="next-invoice">${preview["total"]:.2f}<' in page


def test_it_shows_the_next_invoice_as_the_plan_plus_what_the_meter_is_sent(
    owner, owner_client, stripe_fake
):
    from billing.subscriptions import usage_cents

    owner.subscription_tier = "BASIC"
    owner.save()
    today = user_today(owner)
    DailyCost.objects.create(owner=owner, pipeline_id=None, day=today, total_cost=Decimal("0.5"))
    # Without a Stripe customer nothing is billed, usage or not.
    page = owner_client.get(reverse("billing:overview")).content.decode()
    assert 'data-testid="next-invoice">$0.00<' in page
    assert "nothing is billed" in page
    DailyCost.objects.all().delete()
    # A customer whose subscription Stripe cannot preview (yet): the plan plus what the meter
    # is sent so far.
    Subscription.objects.create(owner=owner, stripe_customer_id="cus_kept", tier="BASIC")
    yesterday = today - timedelta(days=1) if today.day > 1 else today
    DailyCost.objects.create(owner=owner, pipeline_id=None, day=today, total_cost=Decimal("0.101"))
    if yesterday != today:
        DailyCost.objects.create(
            owner=owner, pipeline_id=None, day=yesterday, total_cost=Decimal("2.001")
        )
    metered = usage_cents(owner=owner, day=today) + (
        usage_cents(owner=owner, day=yesterday) if yesterday != today else 0
    )

    page = owner_client.get(reverse("billing:overview")).content.decode()

    expected = Decimal("29") + Decimal(metered) / 100
    assert f'data-testid="next-invoice">${expected:.2f}<' in page


@pytest.mark.django_db(transaction=True)
def test_it_has_the_signal_dispatchers_reread_an_owners_pipelines_once_the_plan_changes(
    owner, owner_client, client, stripe_fake
):
    from signals.invalidation import Invalidation, InvalidationListener

    (listening,) = pipelines(owner, 1)
    listener = InvalidationListener()
    try:
        owner_client.post(reverse("billing:checkout"), {"tier": "BASIC"})
        session_id = next(iter(stripe_fake.checkout_sessions))
        for event in stripe_fake.complete_checkout(session_id, period_end=int(time.time()) + 86400):
            post_event(client, *event)
        owner.refresh_from_db()
        assert owner.subscription_tier == "BASIC"
        heard: list[Invalidation] = []
        deadline = time.monotonic() + 30
        while Invalidation("pipeline", str(listening.pk)) not in heard:
            assert time.monotonic() < deadline, f"no invalidation for the pipeline: {heard}"
            heard += listener.drain()
            time.sleep(0.05)
    finally:
        listener.close()
