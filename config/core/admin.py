"""Admin building blocks shared by the apps: a read-only admin for ledgers and audit records."""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Support staff may look, never write: ledgers (orders, trades, positions, costs) and audit
    trails change only through the services that keep them consistent with the broker and the
    budgets. Every field is shown read-only; nothing can be added, changed or deleted."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
