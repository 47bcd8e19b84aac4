"""Analytics API: performance of the user, of a pipeline and of 2–5 pipelines side by side (the
same figures as the pages), CSV with ``?format=csv``, and the reports of the user's runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from analytics import exports, presenters, selectors
from config.core.pagination import LimitOffsetPagination
from pipelines.selectors import pipeline_get, report_get, reports_for_user

router = Router(tags=["analytics"])
reports_router = Router(tags=["reports"])


class ScopeQuery(Schema):
    period: Literal["7D", "30D", "90D", "YTD", "ALL", "CUSTOM"] | None = Field(
        None, description="7D, 30D (default), 90D, YTD, ALL; CUSTOM with start (and end)."
    )
    start: date | None = Field(None, description="First day (the user's time zone).")
    end: date | None = Field(None, description="Last day, inclusive (default today).")
    mode: Literal["SIMULATION", "VALIDATION", "PAPER", "LIVE"] | None = Field(
        None, description="One trading mode (default SIMULATION): modes are never mixed."
    )
    format: Literal["json", "csv"] = Field("json", description="csv streams the closed trades.")


class CompareQuery(ScopeQuery):
    ids: list[str] = Field(..., description="2–5 pipeline ids: ids=a,b or ids=a&ids=b.")


class Problem(Schema):
    detail: str


class EquityPoint(Schema):
    date: date
    equity: str = Field(..., description="Dollars, two decimals.")
    drawdown: float = Field(..., description="From the running peak, ≤ 0 (−0.12 = −12 %).")


class PerformanceOut(Schema):
    mode: str
    no_real_money: bool = Field(..., description="True for SIMULATION and VALIDATION.")
    period: str
    start: date | None
    end: date
    pipeline_ids: list[UUID]
    capital: str
    metrics: dict[str, Any] = Field(
        ...,
        description=(
            "Money as strings of dollars, ratios as floats (profit_factor may be 'inf'), "
            "times in seconds: trades, net_pnl, gross_pnl, commissions, slippage, agent_costs, "
            "pnl_after_costs, roi, win_rate, average_win, average_loss, expectancy, "
            "profit_factor, largest_win, largest_loss, average_holding_time, "
            "max_consecutive_wins/losses, long_short, sharpe, sortino, volatility, cagr, "
            "max_drawdown (+ _amount, _peak, _trough, _recovery), calmar, exposure."
        ),
    )
    breakdowns: dict[str, list[dict[str, Any]]]
    equity: list[EquityPoint] = Field(..., description="One point per business day.")


class CompareOut(Schema):
    mode: str
    period: str
    pipelines: list[PerformanceOut]


# `?format=csv` answers the closed trades as CSV: documented beside the JSON so clients (and
# Schemathesis) know a 200 may be text/csv.
CSV_RESPONSE = {
    "responses": {
        200: {
            "content": {
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "The closed trades, one per row, with a header row.",
                    }
                }
            }
        }
    }
}


def _scope(request: HttpRequest, query: ScopeQuery, pipeline_ids=()) -> selectors.Scope:
    return selectors.scope_for(
        user=request.auth,
        period=query.period,
        start=query.start,
        end=query.end,
        mode=query.mode,
        pipeline_ids=pipeline_ids,
    )


def _answer(scope: selectors.Scope, query: ScopeQuery):
    if query.format == "csv":
        return exports.trades_csv_response(scope)
    return presenters.api_payload(selectors.performance(scope))


@router.get(
    "/user/performance",
    response=PerformanceOut,
    summary="Your performance in one mode over a period (CSV of trades with format=csv)",
    openapi_extra=CSV_RESPONSE,
)
def user_performance(request: HttpRequest, query: Query[ScopeQuery]):
    return _answer(_scope(request, query), query)


@router.get(
    "/pipelines/compare",
    response=CompareOut,
    summary="2–5 of your pipelines side by side (ids=a,b or ids=a&ids=b)",
)
def compare_pipelines(request: HttpRequest, query: Query[CompareQuery]):
    raw = [part for value in query.ids for part in value.split(",") if part.strip()]
    pipeline_ids = selectors.validate_pipeline_ids(request.auth, raw)
    scope = _scope(request, query)
    performances = selectors.compare(scope, pipeline_ids)
    return {
        "mode": scope.mode,
        "period": scope.period,
        "pipelines": [presenters.api_payload(perf) for perf in performances],
    }


@router.get(
    "/pipelines/{pipeline_id}/performance",
    response=PerformanceOut,
    summary="One pipeline's performance (another user's pipeline is 404)",
    openapi_extra=CSV_RESPONSE,
)
def pipeline_performance(request: HttpRequest, pipeline_id: UUID, query: Query[ScopeQuery]):
    pipeline = pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    if query.mode is None:
        query.mode = pipeline.trading_mode
    return _answer(_scope(request, query, [pipeline.pk]), query)


@router.get(
    "/backtests/{backtest_id}/performance",
    response={200: PerformanceOut, 409: Problem},
    summary="A backtest's results measured like a live record (mode BACKTEST; 409 until done)",
)
def backtest_performance(request: HttpRequest, backtest_id: UUID):
    from analytics import backtests

    backtest = backtests.backtest_for_results(user=request.auth, backtest_id=backtest_id)
    if not backtests.has_results(backtest):
        return Status(409, {"detail": f"The backtest has no results ({backtest.status})."})
    return presenters.api_payload(
        backtests.backtest_performance(user=request.auth, backtest=backtest)
    )


class ReportOut(Schema):
    id: UUID
    title: str
    summary: str
    report_type: str
    pipeline_id: UUID | None
    execution_id: UUID | None
    created_at: datetime


class ReportDetailOut(ReportOut):
    full_report: dict[str, Any]


@reports_router.get("", response=list[ReportOut], summary="Reports of your runs, newest first")
@paginate(LimitOffsetPagination)
def report_list(request: HttpRequest):
    return reports_for_user(user=request.auth).order_by("-created_at")


@reports_router.get("/{report_id}", response=ReportDetailOut, summary="One report in full")
def report_detail(request: HttpRequest, report_id: UUID):
    return report_get(user=request.auth, report_id=report_id)
