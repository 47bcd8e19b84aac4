"""Django admin for pipelines, executions, steps and reports."""

from django.contrib import admin

from pipelines.models import Backtest, Pipeline, PipelineExecution, Report, StepRun


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "trading_mode", "run_mode", "status", "updated_at"]
    list_filter = ["trading_mode", "run_mode", "status"]
    search_fields = ["name", "owner__email"]
    readonly_fields = ["created_at", "updated_at"]


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


@admin.register(PipelineExecution)
class PipelineExecutionAdmin(admin.ModelAdmin):
    list_display = ["id", "pipeline", "owner", "status", "trading_mode", "created_at", "total_cost"]
    list_filter = ["status", "trading_mode", "trigger_source"]
    search_fields = ["id", "pipeline__name", "owner__email"]
    readonly_fields = ["created_at", "started_at", "finished_at", "updated_at", "attempts"]
    inlines = [StepRunInline]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "pipeline", "created_at"]
    search_fields = ["title", "owner__email"]


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    """Read-only: backtests are made by their owners and written once by the engine."""

    list_display = ["pipeline", "owner", "status", "trades_count", "final_equity", "created_at"]
    list_filter = ["status"]
    search_fields = ["pipeline__name", "owner__email"]
    exclude = ["equity", "graph"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
