"""Django admin for the LLM replay cache (read-only; delete rows to force fresh answers)."""

from django.contrib import admin

from agents.models import LLMReplay


@admin.register(LLMReplay)
class LLMReplayAdmin(admin.ModelAdmin):
    list_display = ["created_at", "owner", "model", "prompt_tokens", "completion_tokens", "hits"]
    list_filter = ["model"]
    search_fields = ["owner__email", "model", "prompt_hash"]
    readonly_fields = [field.name for field in LLMReplay._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
