"""Django admin for the cost ledger (read-only: it is an audit record)."""

from django.contrib import admin

from billing.models import CostEntry, DailyCost


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
    readonly_fields = [field.name for field in DailyCost._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
