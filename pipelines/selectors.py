"""Pipeline reads, always scoped to their owner (another user's object is DoesNotExist → 404)."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet

from accounts.models import User
from pipelines.models import Pipeline, PipelineExecution, Report


def pipelines_for_user(*, user: User) -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(owner=user).annotate(
        last_execution_at=Max("executions__created_at")
    )


def pipeline_get(*, user: User, pipeline_id) -> Pipeline:
    return pipelines_for_user(user=user).get(pk=pipeline_id)


def executions_for_user(
    *, user: User, pipeline_id=None, status: str | None = None
) -> QuerySet[PipelineExecution]:
    executions = PipelineExecution.objects.filter(owner=user).select_related("pipeline")
    if pipeline_id is not None:
        executions = executions.filter(pipeline_id=pipeline_id)
    if status:
        executions = executions.filter(status=status)
    return executions


def execution_get(*, user: User, execution_id) -> PipelineExecution:
    return (
        executions_for_user(user=user)
        .prefetch_related("steps", "reports")
        .annotate(step_count=Count("steps"))
        .get(pk=execution_id)
    )


def reports_for_user(*, user: User) -> QuerySet[Report]:
    return Report.objects.filter(owner=user).select_related("pipeline", "execution")


def report_get(*, user: User, report_id) -> Report:
    return reports_for_user(user=user).get(pk=report_id)


# --- Page reads (lists run a fixed number of queries whatever their length) -----------------


def pipeline_cards_for_user(*, user: User) -> QuerySet[Pipeline]:
    """The user's pipelines with their trade count, realized P&L and open P&L, for cards."""
    from django.db.models import DecimalField, IntegerField, OuterRef, Subquery, Sum, Value
    from django.db.models.functions import Coalesce

    from trading.models import Position, PositionStatus, Trade

    trades = Trade.objects.filter(pipeline_id=OuterRef("pk")).order_by().values("pipeline_id")
    open_positions = (
        Position.objects.filter(pipeline_id=OuterRef("pk"), status=PositionStatus.OPEN)
        .order_by()
        .values("pipeline_id")
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    return pipelines_for_user(user=user).annotate(
        trades_count=Coalesce(
            Subquery(trades.annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
            Value(0),
        ),
        realized_pnl=Coalesce(
            Subquery(trades.annotate(total=Sum("realized_pnl")).values("total")),
            Value(0),
            output_field=money,
        ),
        open_pnl=Coalesce(
            Subquery(open_positions.annotate(total=Sum("unrealized_pnl")).values("total")),
            Value(0),
            output_field=money,
        ),
    )


def execution_rows_for_user(
    *,
    user: User,
    pipeline_id=None,
    trading_mode: str | None = None,
    status: str | None = None,
    symbol: str | None = None,
    date_from=None,
    date_to=None,
) -> QuerySet[PipelineExecution]:
    """Executions for tables: without the bulky state and candles, with their report's id."""
    from django.db.models import OuterRef, Q, Subquery

    executions = executions_for_user(user=user, pipeline_id=pipeline_id, status=status)
    if trading_mode:
        executions = executions.filter(trading_mode=trading_mode)
    if symbol:
        symbol = symbol.strip().upper()
        executions = executions.filter(
            Q(state__symbols__contains=[symbol])
            | Q(trigger_detail__symbols__contains=[symbol])
            | Q(pipeline__symbols__contains=[symbol])
        )
    if date_from:
        executions = executions.filter(created_at__date__gte=date_from)
    if date_to:
        executions = executions.filter(created_at__date__lte=date_to)
    reports = Report.objects.filter(execution_id=OuterRef("pk"), report_type="execution")
    return executions.defer(
        "state", "market_data", "graph", "pipeline__graph", "pipeline__settings"
    ).annotate(report_id=Subquery(reports.values("pk")[:1]))


def execution_row_get(*, user: User, execution_id) -> PipelineExecution:
    return execution_rows_for_user(user=user).get(pk=execution_id)
