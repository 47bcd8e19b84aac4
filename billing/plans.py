"""Subscription plans (spec §19.2), read from the SUBSCRIPTION_PLANS and STRIPE_PRICE_* settings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

TIERS = ("FREE", "BASIC", "PRO", "ENTERPRISE")


@dataclass(frozen=True)
class Plan:
    tier: str
    price: Decimal  # USD a month
    max_active_pipelines: int | None  # None = unlimited
    stripe_price_id: str

    @property
    def name(self) -> str:
        return self.tier.title()

    def rank(self) -> int:
        return TIERS.index(self.tier)


def plan(tier: str) -> Plan:
    tier = tier.upper() if tier and tier.upper() in TIERS else "FREE"
    table = settings.SUBSCRIPTION_PLANS[tier]
    limit = table.get("max_active_pipelines")
    return Plan(
        tier=tier,
        price=Decimal(str(table["price"])),
        max_active_pipelines=None if limit is None else int(limit),
        # Free has no Stripe price: nothing is bought.
        stripe_price_id="" if tier == "FREE" else getattr(settings, f"STRIPE_PRICE_{tier}") or "",
    )


def plans() -> list[Plan]:
    return [plan(tier) for tier in TIERS]


def tier_for_price(price_id: str) -> str | None:
    """Which plan a Stripe price id buys."""
    for candidate in plans():
        if price_id and candidate.stripe_price_id == price_id:
            return candidate.tier
    return None
