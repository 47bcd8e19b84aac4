"""The demo account that `make run` seeds, so a fresh install has something to log in to."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal

from accounts.models import SubscriptionTier, User

# Apps that add demo content (pipelines from templates, scanners) listen for this signal, so
# accounts never imports them (imports point one way: accounts ← trading ← … ← signals).
demo_seeded = Signal()


@transaction.atomic
def demo_account_seed(*, password: str) -> tuple[User, bool]:
    from axes.utils import reset as axes_reset

    user, created = User.objects.get_or_create(
        email=settings.DEMO_EMAIL,
        defaults={
            "full_name": "Demo Trader",
            "subscription_tier": SubscriptionTier.PRO,
            "budget_limit_daily": settings.DEFAULT_DAILY_BUDGET,
            "budget_limit_monthly": settings.DEFAULT_MONTHLY_BUDGET,
        },
    )
    user.set_password(password)
    user.save(update_fields=["password"])
    axes_reset(username=user.email)
    demo_seeded.send(sender=User, user=user, created=created)
    return user, created
