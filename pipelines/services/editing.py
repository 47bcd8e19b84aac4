"""Pipeline writes: create, update, clone and delete (the fields checked by
`pipelines.services.fields`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from config.core.errors import Conflict
from pipelines.graph import GraphCheck, validated_graph
from pipelines.models import (
    ACTIVE_EXECUTION_STATUSES,
    Pipeline,
    PipelineStatus,
    TradingMode,
)
from pipelines.services.fields import (
    check_run_mode,
    clean_fields,
    free_pipeline_name,
    require_free_name,
)


@transaction.atomic
def pipeline_create(
    *,
    owner: User,
    name: str,
    graph: dict[str, Any],
    trading_mode: str = TradingMode.SIMULATION,
    **fields: Any,
) -> tuple[Pipeline, GraphCheck]:
    if trading_mode == TradingMode.LIVE:
        raise ValidationError(
            {
                "trading_mode": (
                    "New pipelines start in a test mode; switch to LIVE with confirmation."
                )
            }
        )
    if trading_mode not in TradingMode.values:
        raise ValidationError({"trading_mode": f"One of {', '.join(TradingMode.values)}."})
    check = validated_graph(graph)
    fields.setdefault("mode_config", {})
    cleaned = clean_fields({"name": name, **fields}, trading_mode=trading_mode)
    require_free_name(owner=owner, name=cleaned["name"])
    pipeline = Pipeline.objects.create(
        owner=owner, graph=check.normalized, trading_mode=trading_mode, **cleaned
    )
    check_run_mode(pipeline)
    return pipeline, check


@transaction.atomic
def pipeline_update(*, pipeline: Pipeline, **fields: Any) -> tuple[Pipeline, GraphCheck | None]:
    if "trading_mode" in fields:
        raise ValidationError(
            {"trading_mode": "Change the trading mode with PATCH /pipelines/{id}/mode."}
        )
    check = None
    if "graph" in fields:
        check = validated_graph(fields.pop("graph"))
        pipeline.graph = check.normalized
    cleaned = clean_fields(fields, trading_mode=pipeline.trading_mode)
    if "name" in cleaned:
        require_free_name(owner=pipeline.owner, name=cleaned["name"], exclude_pk=pipeline.pk)
    for key, value in cleaned.items():
        setattr(pipeline, key, value)
    pipeline.save()
    check_run_mode(pipeline)
    if pipeline.status == PipelineStatus.ACTIVE:
        from pipelines.periodic import periodic_task_sync

        periodic_task_sync(pipeline=pipeline)
    return pipeline, check


@transaction.atomic
def pipeline_clone(*, pipeline: Pipeline, name: str | None = None) -> Pipeline:
    if name:
        require_free_name(owner=pipeline.owner, name=name.strip()[:255])
    return Pipeline.objects.create(
        owner=pipeline.owner,
        name=name.strip()[:255]
        if name
        else free_pipeline_name(owner=pipeline.owner, name=f"{pipeline.name} (copy)"),
        description=pipeline.description,
        graph=pipeline.graph,
        settings=pipeline.settings,
        symbols=pipeline.symbols,
        primary_timeframe=pipeline.primary_timeframe,
        run_mode=pipeline.run_mode,
        trading_mode=(
            TradingMode.SIMULATION
            if pipeline.trading_mode == TradingMode.LIVE
            else pipeline.trading_mode
        ),
        mode_config=pipeline.mode_config,
        schedule=pipeline.schedule,
        signal_subscriptions=pipeline.signal_subscriptions,
        daily_budget=pipeline.daily_budget,
        template_key=pipeline.template_key,
        status=PipelineStatus.DRAFT,
    )


@transaction.atomic
def pipeline_delete(*, pipeline: Pipeline) -> None:
    from pipelines.periodic import periodic_task_remove

    if pipeline.executions.filter(status__in=ACTIVE_EXECUTION_STATUSES).exists():
        raise Conflict("Stop the pipeline's running execution before deleting it.")
    periodic_task_remove(pipeline=pipeline)
    pipeline.delete()
