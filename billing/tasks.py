"""Billing's beat task: yesterday's usage fees reported to Stripe's meter (once per owner/day)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing.subscriptions import usage_report_day


@shared_task(name="billing.usage_report", ignore_result=True)
def usage_report_task() -> int:
    if not settings.STRIPE_SECRET_KEY:
        return 0
    return usage_report_day(day=timezone.localdate() - timedelta(days=1))
