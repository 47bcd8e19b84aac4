"""Django admin for pipelines, executions, steps, reports and the mode-change audit.

A pipeline's rules live in its services: the trading mode only changes through
`pipeline_mode_change` (confirmation, prerequisites, audit), the graph is validated, the run
mode arms schedules. So the admin edits only the name, the description and the graph, and
saves them through `pipeline_update`; everything else is read-only here. Executions, steps,
reports and mode changes are records of what happened: read-only.
"""

from django import forms
from django.contrib import admin

from config.core.admin import ReadOnlyAdmin
from pipelines.graph import InvalidGraph, validated_graph
from pipelines.models import (
    Backtest,
    BacktestWalkForward,
    Pipeline,
    PipelineExecution,
    PipelineModeChange,
    Report,
    StepRun,
)
from pipelines.services import pipeline_update

EDITABLE_PIPELINE_FIELDS = ["name", "description", "graph"]


class PipelineAdminForm(forms.ModelForm):
    class Meta:
        model = Pipeline
        fields = EDITABLE_PIPELINE_FIELDS

    def clean_graph(self):
        graph = self.cleaned_data["graph"]
        try:
            return validated_graph(graph).normalized
        except InvalidGraph as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    form = PipelineAdminForm
    list_display = ["name", "owner", "trading_mode", "run_mode", "status", "updated_at"]
    list_filter = ["trading_mode", "run_mode", "status"]
    search_fields = ["name", "owner__email"]

    def get_readonly_fields(self, request, obj=None):
        return [
            field.name
            for field in Pipeline._meta.fields
            if field.name not in EDITABLE_PIPELINE_FIELDS
        ]

    def has_add_permission(self, request):
        return False  # pipelines are made in the builder or the API, with their checks

    def save_model(self, request, obj, form, change):
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        fresh = Pipeline.objects.get(pk=obj.pk)  # the service applies the change, not the form
        pipeline_update(pipeline=fresh, **changed)


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    fields = [
        "position",
        "node_id",
        "agent_type",
        "status",
        "duration_ms",
        "agent_cost",
        "output_summary",
    ]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PipelineExecution)
class PipelineExecutionAdmin(ReadOnlyAdmin):
    list_display = ["id", "pipeline", "owner", "status", "trading_mode", "created_at", "total_cost"]
    list_filter = ["status", "trading_mode", "trigger_source"]
    search_fields = ["id", "pipeline__name", "owner__email"]
    inlines = [StepRunInline]


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["title", "owner", "pipeline", "created_at"]
    search_fields = ["title", "owner__email"]


@admin.register(PipelineModeChange)
class PipelineModeChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "pipeline", "from_mode", "to_mode", "changed_by", "confirmed"]
    list_filter = ["to_mode"]
    search_fields = ["pipeline__name", "changed_by__email"]


@admin.register(Backtest)
class BacktestAdmin(ReadOnlyAdmin):
    """Read-only: backtests are made by their owners and written once by the engine."""

    list_display = ["pipeline", "owner", "status", "trades_count", "final_equity", "created_at"]
    list_filter = ["status"]
    search_fields = ["pipeline__name", "owner__email"]
    exclude = ["equity", "graph"]

    def get_readonly_fields(self, request, obj=None):
        return [
            name for name in super().get_readonly_fields(request, obj) if name not in self.exclude
        ]


@admin.register(BacktestWalkForward)
class BacktestWalkForwardAdmin(ReadOnlyAdmin):
    """Read-only: walk-forwards are made by their owners and written by their Celery task."""

    list_display = [
        "pipeline",
        "owner",
        "status",
        "combinations",
        "windows_done",
        "windows_total",
        "out_of_sample_return_pct",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["pipeline__name", "owner__email"]
