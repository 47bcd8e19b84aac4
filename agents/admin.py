"""Django admin: the LLM replay cache, and the custom-strategy approval queue.

The queue shows each version awaiting review with its code, the static and model findings side
by side, the dry run, the owner and the history. Reviewers (staff with the dedicated permission)
cannot edit anything; they approve the exact hash on the page or reject with a comment.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from agents.custom import services
from agents.custom.selectors import strategy_runs, strategy_versions
from agents.custom.services import REVIEW_PERMISSION, CustomStrategyError
from agents.models import (
    CustomStrategy,
    CustomStrategyStatus,
    LLMReplay,
    PendingCustomStrategy,
)


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


class _ReviewAdmin(admin.ModelAdmin):
    """Read-only for everyone; visible to staff who hold the review permission."""

    change_form_template = "admin/agents/customstrategy/review.html"
    list_display = ["name", "version", "owner", "status", "submitted_at", "code_hash_short"]
    list_filter = ["status"]
    search_fields = ["name", "owner__email", "code_hash"]
    ordering = ["submitted_at"]
    readonly_fields = [
        "owner",
        "name",
        "version",
        "status",
        "description",
        "code_hash",
        "submitted_at",
        "reviewed_by",
        "reviewed_at",
        "review_comment",
    ]
    fields = readonly_fields

    @admin.display(description="code hash")
    def code_hash_short(self, obj):
        return obj.code_hash[:12]

    def has_module_permission(self, request):
        return (
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm(REVIEW_PERMISSION)
        )

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<uuid:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="%s_%s_decide" % info,  # noqa: UP031 - Django admin's URL-name idiom
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        strategy = get_object_or_404(CustomStrategy, pk=object_id)
        info = self.model._meta.app_label, self.model._meta.model_name
        extra_context = {
            **(extra_context or {}),
            "strategy": strategy,
            "versions": strategy_versions(strategy=strategy),
            "reviews": strategy.reviews.select_related("reviewer"),
            "runs": strategy_runs(strategy=strategy, limit=10),
            "can_decide": strategy.status == CustomStrategyStatus.PENDING_REVIEW,
            "decide_url": reverse(f"admin:{info[0]}_{info[1]}_decide", args=[strategy.pk]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id):
        if request.method != "POST":
            return redirect(
                reverse(
                    f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change",
                    args=[object_id],
                )
            )
        if not self.has_module_permission(request):
            raise PermissionDenied
        decision = request.POST.get("decision")
        seen_hash = request.POST.get("code_hash", "")
        comment = request.POST.get("comment", "")
        try:
            if decision == "approve":
                strategy = services.strategy_approve(
                    strategy_id=object_id,
                    reviewer=request.user,
                    code_hash=seen_hash,
                    comment=comment,
                )
                messages.success(request, f"Approved {strategy}: it is active.")
            elif decision == "reject":
                strategy = services.strategy_reject(
                    strategy_id=object_id,
                    reviewer=request.user,
                    code_hash=seen_hash,
                    comment=comment,
                )
                messages.success(request, f"Rejected {strategy}; the owner was told why.")
            else:
                messages.error(request, "Choose Approve or Reject.")
        except CustomStrategyError as error:
            messages.error(request, error.message)
            return redirect(
                reverse(
                    f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change",
                    args=[object_id],
                )
            )
        return redirect(
            reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist")
        )


@admin.register(PendingCustomStrategy)
class PendingCustomStrategyAdmin(_ReviewAdmin):
    """Custom strategies awaiting review: the queue."""

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(status=CustomStrategyStatus.PENDING_REVIEW, dry_run_result__isnull=False)
            .select_related("owner")
        )


@admin.register(CustomStrategy)
class CustomStrategyAdmin(_ReviewAdmin):
    """Every custom strategy version, for the history (read-only)."""

    ordering = ["-created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")
