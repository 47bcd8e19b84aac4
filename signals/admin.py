"""Django admin for scanners (saved through the services: ticker normalisation, the dispatchers
told) and the signal log (read-only: the dispatcher writes it)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from signals import services
from signals.models import Scanner, SignalEvent, SignalMatch


class ScannerAdminForm(forms.ModelForm):
    class Meta:
        model = Scanner
        fields = ["owner", "name", "tickers"]

    def clean_tickers(self):
        try:
            return services.scanner_tickers_clean(self.cleaned_data["tickers"])
        except ValidationError as error:
            raise forms.ValidationError(
                " ".join(m for messages in error.message_dict.values() for m in messages)
            ) from None


@admin.register(Scanner)
class ScannerAdmin(admin.ModelAdmin):
    form = ScannerAdminForm
    list_display = ["name", "owner", "scanner_type", "updated_at"]
    list_filter = ["scanner_type"]
    search_fields = ["name", "owner__email"]
    raw_id_fields = ["owner"]

    def get_readonly_fields(self, request, obj=None):
        return ["owner", "scanner_type"] if obj is not None else ["scanner_type"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            fresh = Scanner.objects.get(pk=obj.pk)
            services.scanner_update(scanner=fresh, name=data["name"], tickers=data["tickers"])
        else:
            created = services.scanner_create(
                owner=data["owner"], name=data["name"], tickers=data["tickers"]
            )
            obj.pk = created.pk  # the admin redirects to the saved object

    def delete_model(self, request, obj):
        services.scanner_delete(scanner=obj)


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
