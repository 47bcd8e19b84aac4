"""Billing pages (thin): the overview, the redirects to Checkout and the Portal, the webhook."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.selectors import user_today
from billing import selectors
from billing.estimates import estimate_accuracy
from billing.plans import plans
from billing.subscriptions import (
    BillingUnavailable,
    WebhookRejected,
    checkout_start,
    invoice_preview,
    portal_start,
    usage_cents,
    usage_cents_this_month,
    webhook_receive,
)
from config.core.errors import Conflict


@login_required
def billing_overview(request):
    user = request.user
    current = selectors.effective_plan(user=user)
    active = selectors.active_pipelines_count(user=user)
    limit = current.plan.max_active_pipelines
    spend = selectors.spend_summary(owner=user)
    subscription = getattr(user, "subscription", None) if hasattr(user, "subscription") else None
    today = user_today(user)
    context = {
        "current": current,
        "plans": plans(),
        "active_pipelines": active,
        "pipeline_limit": limit,
        "at_limit": current.enforced and limit is not None and active >= limit,
        "spend": spend,
        "usage_today_cents": usage_cents(owner=user, day=today),
        "next_invoice": current.plan.price
        + Decimal(usage_cents_this_month(owner=user, today=today)) / 100,
        "subscription": subscription,
        "invoice_preview": _invoice_preview(user),
        "accuracy": estimate_accuracy(owner=user),
    }
    return render(request, "billing/overview.html", context)


def _invoice_preview(user):
    """Stripe's own preview of the next invoice; None without a subscription or when Stripe
    does not answer (the page then shows the plan plus the usage reported so far)."""
    try:
        return invoice_preview(owner=user)
    except BillingUnavailable:
        return None


def _absolute(request, name: str) -> str:
    return request.build_absolute_uri(reverse(name))


@login_required
@require_POST
def billing_checkout(request):
    try:
        url = checkout_start(
            owner=request.user,
            tier=request.POST.get("tier", ""),
            success_url=_absolute(request, "billing:overview") + "?checkout=done",
            cancel_url=_absolute(request, "billing:overview"),
        )
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("billing:overview")
    return redirect(url)


@login_required
@require_POST
def billing_portal(request):
    try:
        url = portal_start(owner=request.user, return_url=_absolute(request, "billing:overview"))
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("billing:overview")
    return redirect(url)


@csrf_exempt  # Stripe signs the body instead; an unsigned or forged event is refused
@require_POST
def stripe_webhook(request):
    try:
        outcome = webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except WebhookRejected as error:
        return JsonResponse({"detail": str(error)}, status=400)
    return HttpResponse(outcome, content_type="text/plain")
