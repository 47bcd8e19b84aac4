"""Django admin for the cost ledger (read-only: it is an audit record), budget reservations,
subscriptions, applied Stripe events and usage reports (read-only: Stripe and runs write them)."""

from django.contrib import admin

from billing.models import (
    BudgetReservation,
    CostEntry,
    DailyCost,
    StripeEvent,
    Subscription,
    UsageReport,
)


@admin.register(CostEntry)
class CostEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "owner", "agent_type", "cost_type", "quantity", "total_cost"]
    list_filter = ["cost_type", "agent_type"]
    search_fields = ["owner__email", "agent_type"]
    readonly_fields = [field.name for field in CostEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DailyCost)
class DailyCostAdmin(admin.ModelAdmin):
    list_display = ["day", "owner", "pipeline_id", "total_cost"]
    list_filter = ["day"]
    search_fields = ["owner__email"]


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BudgetReservation)
class BudgetReservationAdmin(_ReadOnly):
    list_display = ["created_at", "owner", "execution_id", "status", "amount", "estimated_cost"]
    list_filter = ["status", "day"]
    search_fields = ["owner__email", "execution_id"]


@admin.register(Subscription)
class SubscriptionAdmin(_ReadOnly):
    list_display = ["owner", "tier", "status", "expires_at", "grace_until"]
    list_filter = ["tier", "status"]
    search_fields = ["owner__email", "stripe_customer_id"]


@admin.register(StripeEvent)
class StripeEventAdmin(_ReadOnly):
    list_display = ["received_at", "event_id", "event_type", "applied"]
    list_filter = ["event_type", "applied"]
    search_fields = ["event_id"]


@admin.register(UsageReport)
class UsageReportAdmin(_ReadOnly):
    list_display = ["day", "owner", "cents", "reported_at"]
    search_fields = ["owner__email", "identifier"]
