"""Walk-forward API: start an analysis (checked before it is queued), read its out-of-sample
results and the combinations tried, cancel it. Everything is the caller's own; others' ids
are 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from pipelines import selectors as pipeline_selectors
from pipelines.backtest import selectors
from pipelines.backtest import walkforward_services as services
from pipelines.backtest.api import BacktestIn, Problem, _refused
from pipelines.backtest.checks import BacktestRefused
from pipelines.backtest.walkforward_views import walkforward_get

walkforwards_router = Router(tags=["backtests"])


class WalkForwardIn(BacktestIn):
    grid: dict[str, list[Any]] = Field(
        ..., description='{"node_id.field": [values, …]}; optimised in each in-sample window.'
    )
    in_sample_bars: int = Field(..., ge=2, le=10_000_000)
    out_of_sample_bars: int = Field(..., ge=2, le=10_000_000)


class WindowOut(Schema):
    in_sample: list[int] = Field(..., description="Bar indices [start, end) of the range.")
    out_of_sample: list[int]
    in_sample_from: str
    out_of_sample_from: str
    out_of_sample_to: str
    parameters: dict[str, Any] = Field(..., description="The in-sample winner.")
    out_of_sample_return_pct: float
    out_of_sample_trades: int


class WalkForwardOut(Schema):
    id: UUID
    pipeline_id: UUID
    dataset_id: UUID
    status: str
    grid: dict[str, Any]
    in_sample_bars: int
    out_of_sample_bars: int
    combinations_tried: int = Field(..., description="Per in-sample window (overfitting risk).")
    windows_total: int
    windows_done: int
    out_of_sample_return_pct: float | None = Field(
        ..., description="Compounded over the out-of-sample windows; in-sample is not reported."
    )
    warning: str
    windows: list[WindowOut]
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _out(walkforward) -> dict:
    return {
        **{
            name: getattr(walkforward, name)
            for name in (
                "id",
                "pipeline_id",
                "dataset_id",
                "status",
                "grid",
                "in_sample_bars",
                "out_of_sample_bars",
                "windows_total",
                "windows_done",
                "out_of_sample_return_pct",
                "error",
                "created_at",
                "started_at",
                "finished_at",
            )
        },
        "combinations_tried": walkforward.combinations,
        "warning": (
            f"{walkforward.combinations} combinations were tried in each in-sample window; "
            "only the out-of-sample results say anything about the future, and the more "
            "combinations tried, the more the in-sample winner owes to luck."
        ),
        # The in-sample return of the winner is kept out of the answer on purpose.
        "windows": [
            {k: v for k, v in window.items() if k != "in_sample_return_pct"}
            for window in walkforward.windows
        ],
    }


@walkforwards_router.post(
    "",
    response={201: WalkForwardOut, 422: Problem},
    summary="Walk forward: optimise a grid in-sample, trade the winner out-of-sample, roll on",
)
def walkforwards_create(request: HttpRequest, payload: WalkForwardIn):
    pipeline = pipeline_selectors.pipeline_get(user=request.auth, pipeline_id=payload.pipeline_id)
    dataset = selectors.dataset_get(user=request.auth, dataset_id=payload.dataset_id)
    try:
        walkforward = services.walkforward_create(
            owner=request.auth,
            pipeline=pipeline,
            dataset=dataset,
            grid=payload.grid,
            settings=payload.settings(),
            in_sample_bars=payload.in_sample_bars,
            out_of_sample_bars=payload.out_of_sample_bars,
        )
    except BacktestRefused as error:
        return Status(422, _refused(error))
    return Status(201, _out(walkforward))


@walkforwards_router.get(
    "/{walkforward_id}",
    response=WalkForwardOut,
    summary="Progress and the out-of-sample results, with the combinations tried",
)
def walkforwards_detail(request: HttpRequest, walkforward_id: UUID):
    return _out(walkforward_get(user=request.auth, walkforward_id=walkforward_id))


@walkforwards_router.post(
    "/{walkforward_id}/cancel",
    response=WalkForwardOut,
    summary="Stop a waiting analysis, or a running one after its current window",
)
def walkforwards_cancel(request: HttpRequest, walkforward_id: UUID):
    walkforward = walkforward_get(user=request.auth, walkforward_id=walkforward_id)
    return _out(services.walkforward_cancel(walkforward=walkforward))
