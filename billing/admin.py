"""Django admin for the cost ledger (an audit record), budget reservations, subscriptions,
applied Stripe events and usage reports: all read-only, since runs, Stripe and the services write
them."""

from django.contrib import admin

from billing.models import (
    BudgetReservation,
    CostEntry,
    DailyCost,
    StripeEvent,
    Subscription,
    UsageReport,
)
from config.core.admin import ReadOnlyAdmin


@admin.register(CostEntry)
class CostEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "owner", "agent_type", "cost_type", "quantity", "total_cost"]
    list_filter = ["cost_type", "agent_type"]
    search_fields = ["owner__email", "agent_type"]


@admin.register(DailyCost)
class DailyCostAdmin(ReadOnlyAdmin):
    list_display = ["day", "owner", "pipeline_id", "total_cost"]
    list_filter = ["day"]
    search_fields = ["owner__email"]


@admin.register(BudgetReservation)
class BudgetReservationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "owner", "execution_id", "status", "amount", "estimated_cost"]
    list_filter = ["status", "day"]
    search_fields = ["owner__email", "execution_id"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["owner", "tier", "status", "expires_at", "grace_until"]
    list_filter = ["tier", "status"]
    search_fields = ["owner__email", "stripe_customer_id"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "event_id", "event_type", "applied"]
    list_filter = ["event_type", "applied"]
    search_fields = ["event_id"]


@admin.register(UsageReport)
class UsageReportAdmin(ReadOnlyAdmin):
    list_display = ["day", "owner", "cents", "reported_at"]
    search_fields = ["owner__email", "identifier"]
