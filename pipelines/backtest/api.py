"""Backtesting API: datasets (upload, fetch, list), backtests (start, status and metrics,
trades, cancel) and parameter sweeps. Everything is the caller's own; others' ids are 404."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from config.core.pagination import LimitOffsetPagination
from pipelines import selectors as pipeline_selectors
from pipelines.backtest import checks, selectors, services, sweep_services
from pipelines.backtest.checks import BacktestRefused, BacktestSettings
from pipelines.models import BacktestStatus
from trading.marketdata.dataset_sources import dataset_provider
from trading.marketdata.datasets import (
    DatasetError,
    dataset_create_from_csv,
    dataset_create_from_provider,
)

datasets_router = Router(tags=["backtests"])
backtests_router = Router(tags=["backtests"])
sweeps_router = Router(tags=["backtests"])

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
Timeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]


class DatasetOut(Schema):
    id: UUID
    name: str
    symbol: str
    timeframe: str
    source: str
    source_time_zone: str
    bar_count: int
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime


class DatasetFetchIn(Schema):
    source: Literal["synthetic", "alpaca"] = "synthetic"
    symbol: str = Field(..., min_length=1, max_length=16)
    timeframe: Timeframe = "1d"
    start: datetime
    end: datetime
    name: str = Field("", max_length=120)


class Problem(Schema):
    detail: Any


FORM_FIELDS = ("symbol", "time_zone", "timeframe", "start", "end", "source")


def _dataset_problem(error: DatasetError) -> dict:
    """422 body: a form field's name, or the file's row and column."""
    if error.column in FORM_FIELDS:
        loc = ["body", error.column]
    else:
        loc = ["body", "file", *(x for x in (error.row, error.column) if x is not None)]
    return {"detail": [{"loc": loc, "msg": str(error), "row": error.row, "column": error.column}]}


@datasets_router.get("", response=list[DatasetOut], summary="Your datasets (newest first)")
@paginate(LimitOffsetPagination)
def datasets_list(request: HttpRequest):
    return selectors.datasets_for_user(user=request.auth)


@datasets_router.post(
    "",
    response={201: DatasetOut, 422: Problem},
    summary="Upload an OHLCV CSV (timestamp, open, high, low, close, volume)",
)
def datasets_upload(
    request: HttpRequest,
    file: File[UploadedFile],
    symbol: Form[str],
    time_zone: Form[str] = "UTC",
    name: Form[str] = "",
):
    if file.size and file.size > MAX_UPLOAD_BYTES:
        return Status(
            422, {"detail": [{"loc": ["body", "file"], "msg": "The file is over 100 MB."}]}
        )
    try:
        dataset = dataset_create_from_csv(
            owner=request.auth, name=name, symbol=symbol, content=file.read(), time_zone=time_zone
        )
    except DatasetError as error:
        return Status(422, _dataset_problem(error))
    return Status(201, dataset)


@datasets_router.post(
    "/fetch",
    response={201: DatasetOut, 422: Problem},
    summary="Fetch a range of bars (synthetic, or Alpaca's with your connection) into a dataset",
)
def datasets_fetch(request: HttpRequest, payload: DatasetFetchIn):
    from trading.marketdata.base import MarketDataError

    try:
        dataset = dataset_create_from_provider(
            owner=request.auth,
            provider=dataset_provider(owner=request.auth, source=payload.source),
            source=payload.source,
            symbol=payload.symbol,
            timeframe=payload.timeframe,
            start=payload.start,
            end=payload.end,
            name=payload.name,
        )
    except DatasetError as error:
        return Status(422, _dataset_problem(error))
    except MarketDataError as error:
        return Status(422, {"detail": [{"loc": ["body", "symbol"], "msg": str(error)}]})
    return Status(201, dataset)


@datasets_router.get("/{dataset_id}", response=DatasetOut, summary="One dataset")
def datasets_detail(request: HttpRequest, dataset_id: UUID):
    return selectors.datasets_for_user(user=request.auth).get(pk=dataset_id)


class BacktestIn(Schema):
    pipeline_id: UUID
    dataset_id: UUID
    start: datetime | None = None
    end: datetime | None = None
    initial_cash: Decimal = Field(Decimal("10000"), gt=0, max_digits=14, decimal_places=2)
    commission_pct: Decimal = Field(Decimal("0"), ge=0, lt=10, max_digits=7, decimal_places=4)
    commission_per_share: Decimal = Field(Decimal("0"), ge=0, lt=10, max_digits=7, decimal_places=4)
    slippage_pct: Decimal = Field(Decimal("0"), ge=0, lt=10, max_digits=7, decimal_places=4)
    fill_at: Literal["next_open", "close"] = "next_open"
    # both: long on the entry conditions, short on the exit conditions, reversing between them.
    side: Literal["long", "short", "both"] = "long"
    # The hard cap on LLM spend (dollars); none: LLM engines answer from the replay cache only.
    llm_budget: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=4)

    def settings(self) -> BacktestSettings:
        return BacktestSettings(
            start=self.start,
            end=self.end,
            initial_cash=self.initial_cash,
            commission_pct=self.commission_pct,
            commission_per_share=self.commission_per_share,
            slippage_pct=self.slippage_pct,
            fill_at=self.fill_at,
            side=self.side,
            llm_budget=self.llm_budget,
        )


class BacktestOut(Schema):
    id: UUID
    pipeline_id: UUID
    dataset_id: UUID
    sweep_id: UUID | None
    status: str
    parameters: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    initial_cash: Decimal
    commission_pct: Decimal
    commission_per_share: Decimal
    slippage_pct: Decimal
    fill_at: str
    side: str
    bars_total: int
    bars_done: int
    progress_pct: int
    final_equity: Decimal | None
    net_pnl: Decimal | None
    trades_count: int
    llm_budget: Decimal | None
    llm_estimate: Decimal | None
    llm_cost: Decimal
    metrics: dict[str, Any]
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BacktestTradeOut(Schema):
    symbol: str
    side: str
    quantity: int
    entry_bar: int
    entry_at: datetime
    entry_price: Decimal
    stop_loss: Decimal | None
    target_1: Decimal | None
    target_2: Decimal | None
    exit_bar: int | None
    exit_at: datetime | None
    exit_price: Decimal | None
    partial_exit_quantity: int
    partial_exit_price: Decimal | None
    commission: Decimal
    net_pnl: Decimal
    close_reason: str
    is_open: bool
    reasoning: str = Field(
        description="Why it was entered: the trigger, the bias's reading, the strategy's levels."
    )


def _refused(error: BacktestRefused) -> dict:
    return {"detail": [{"loc": ["body", error.field], "msg": str(error)}]}


@backtests_router.post(
    "",
    response={201: BacktestOut, 422: Problem},
    summary="Start a backtest of a pipeline over a dataset (checked before it is queued)",
)
def backtests_create(request: HttpRequest, payload: BacktestIn):
    pipeline = pipeline_selectors.pipeline_get(user=request.auth, pipeline_id=payload.pipeline_id)
    dataset = selectors.dataset_get(user=request.auth, dataset_id=payload.dataset_id)
    try:
        backtest = services.backtest_create(
            owner=request.auth, pipeline=pipeline, dataset=dataset, settings=payload.settings()
        )
    except BacktestRefused as error:
        return Status(422, _refused(error))
    return Status(201, backtest)


class EstimateOut(Schema):
    bars: int
    llm_estimate: Decimal | None


@backtests_router.post(
    "/estimate",
    response={200: EstimateOut, 422: Problem},
    summary="What a backtest would replay and spend on LLM engines, before starting it",
)
def backtests_estimate(request: HttpRequest, payload: BacktestIn):
    pipeline = pipeline_selectors.pipeline_get(user=request.auth, pipeline_id=payload.pipeline_id)
    dataset = selectors.dataset_get(user=request.auth, dataset_id=payload.dataset_id)
    try:
        bars, estimate = checks.backtest_estimate(
            pipeline=pipeline, dataset=dataset, settings=payload.settings()
        )
    except BacktestRefused as error:
        return Status(422, _refused(error))
    return {"bars": bars, "llm_estimate": estimate}


class BacktestFilters(Schema):
    pipeline_id: UUID | None = None
    status: BacktestStatus | None = None


@backtests_router.get("", response=list[BacktestOut], summary="Your backtests (newest first)")
@paginate(LimitOffsetPagination)
def backtests_list(request: HttpRequest, filters: Query[BacktestFilters]):
    return selectors.backtests_for_user(
        user=request.auth, pipeline_id=filters.pipeline_id, status=filters.status
    )


@backtests_router.get(
    "/{backtest_id}", response=BacktestOut, summary="Status, progress and metrics"
)
def backtests_detail(request: HttpRequest, backtest_id: UUID):
    return selectors.backtest_get(user=request.auth, backtest_id=backtest_id)


@backtests_router.get(
    "/{backtest_id}/trades",
    response=list[BacktestTradeOut],
    summary="A backtest's trades, in the order they were entered",
)
@paginate(LimitOffsetPagination)
def backtests_trades(request: HttpRequest, backtest_id: UUID):
    backtest = selectors.backtest_get(user=request.auth, backtest_id=backtest_id)
    return selectors.backtest_trades(backtest=backtest)


@backtests_router.post(
    "/{backtest_id}/cancel", response=BacktestOut, summary="Stop a waiting or running backtest"
)
def backtests_cancel(request: HttpRequest, backtest_id: UUID):
    backtest = selectors.backtest_get(user=request.auth, backtest_id=backtest_id)
    return services.backtest_cancel(backtest=backtest)


class SweepIn(BacktestIn):
    grid: dict[str, list[Any]] = Field(
        ..., description='{"node_id.field": [values, …]}; every combination runs.'
    )
    chunk_size: int = Field(10, ge=1, le=100)


class SweepRowOut(Schema):
    backtest_id: UUID
    parameters: dict[str, Any]
    status: str
    final_equity: Decimal | None
    net_pnl: Decimal | None
    trades_count: int
    metrics: dict[str, Any]


class SweepOut(Schema):
    id: UUID
    pipeline_id: UUID
    dataset_id: UUID
    grid: dict[str, Any]
    combinations: int
    status: str
    finished: int
    created_at: datetime
    finished_at: datetime | None
    rows: list[SweepRowOut]


def _sweep_out(sweep) -> dict:
    rows = selectors.sweep_rows(sweep=sweep)
    return {
        "id": sweep.id,
        "pipeline_id": sweep.pipeline_id,
        "dataset_id": sweep.dataset_id,
        "grid": sweep.grid,
        "combinations": sweep.combinations,
        "status": sweep.status,
        "finished": sum(1 for row in rows if row.is_finished),
        "created_at": sweep.created_at,
        "finished_at": sweep.finished_at,
        "rows": [
            {
                "backtest_id": row.id,
                "parameters": row.parameters,
                "status": row.status,
                "final_equity": row.final_equity,
                "net_pnl": row.net_pnl,
                "trades_count": row.trades_count,
                "metrics": row.metrics,
            }
            for row in rows
        ],
    }


@sweeps_router.post(
    "",
    response={201: SweepOut, 422: Problem},
    summary="Sweep a grid of node config values: one backtest per combination, in Celery chunks",
)
def sweeps_create(request: HttpRequest, payload: SweepIn):
    pipeline = pipeline_selectors.pipeline_get(user=request.auth, pipeline_id=payload.pipeline_id)
    dataset = selectors.dataset_get(user=request.auth, dataset_id=payload.dataset_id)
    try:
        sweep = sweep_services.sweep_create(
            owner=request.auth,
            pipeline=pipeline,
            dataset=dataset,
            grid=payload.grid,
            settings=payload.settings(),
            chunk_size=payload.chunk_size,
        )
    except BacktestRefused as error:
        return Status(422, _refused(error))
    return Status(201, _sweep_out(sweep))


@sweeps_router.get("/{sweep_id}", response=SweepOut, summary="A sweep's results, best first")
def sweeps_detail(request: HttpRequest, sweep_id: UUID):
    sweep = selectors.sweep_get(user=request.auth, sweep_id=sweep_id)
    return _sweep_out(sweep_services.sweep_refresh(sweep=sweep))
