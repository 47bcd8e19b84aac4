"""Django admin for scanners and the signal log (read-only: the dispatcher writes it)."""

from django.contrib import admin

from signals.models import Scanner, SignalEvent, SignalMatch


@admin.register(Scanner)
class ScannerAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "scanner_type", "updated_at"]
    list_filter = ["scanner_type"]
    search_fields = ["name", "owner__email"]
    raw_id_fields = ["owner"]


class SignalMatchInline(admin.TabularInline):
    model = SignalMatch
    extra = 0
    can_delete = False
    readonly_fields = ["owner", "pipeline_id", "execution_id", "symbols", "outcome"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SignalEvent)
class SignalEventAdmin(admin.ModelAdmin):
    list_display = ["signal_id", "signal_type", "source", "owner", "matched_count", "received_at"]
    list_filter = ["signal_type", "source"]
    search_fields = ["signal_id"]
    date_hierarchy = "received_at"
    inlines = [SignalMatchInline]
    readonly_fields = [f.name for f in SignalEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
