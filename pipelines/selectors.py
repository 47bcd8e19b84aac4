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
