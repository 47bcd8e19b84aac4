"""Pipeline reads, always scoped to their owner (another user's object is DoesNotExist → 404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Func, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce

from accounts.models import User
from agents.registry import agent_class
from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution, Report, StepStatus
from pipelines.services import TIMEFRAMES


def pipelines_for_user(*, user: User) -> QuerySet[Pipeline]:
    # The latest run per pipeline as a correlated subquery (one index probe on
    # (pipeline, -created_at)), not Max() over a join: the join multiplies every pipeline by
    # its runs before grouping, and any other subquery annotated on top then runs once per
    # joined row (1,041 times instead of 50 for 100 pipelines with 20 runs each: 230 ms).
    latest_run = (
        PipelineExecution.objects.filter(pipeline_id=OuterRef("pk"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return Pipeline.objects.filter(owner=user).annotate(last_execution_at=Subquery(latest_run))


def pipeline_names(*, user: User, pipeline_ids=None) -> dict:
    """{id: name} of the user's pipelines, in name order (only `pipeline_ids` when given)."""
    rows = Pipeline.objects.filter(owner=user).order_by("name")
    if pipeline_ids is not None:
        rows = rows.filter(pk__in=pipeline_ids)
    return dict(rows.values_list("pk", "name"))


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
    from django.db.models import DecimalField, IntegerField, Sum, Value
    from django.db.models.functions import Coalesce

    from trading.models import Position, PositionStatus, Trade

    trades = Trade.objects.filter(pipeline_id=OuterRef("pk")).order_by().values("pipeline_id")
    # By owner and status first: the (owner, status) index finds the owner's open positions,
    # where pipeline_id alone (not indexed) scanned every position ever held, per pipeline.
    open_positions = (
        Position.objects.filter(
            owner_id=OuterRef("owner_id"), status=PositionStatus.OPEN, pipeline_id=OuterRef("pk")
        )
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
    from django.db.models import Q

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


# --- What the pages show of agents and runs --------------------------------------------------


def agent_name(agent_type: str) -> str:
    cls = agent_class(agent_type)
    return cls.metadata.name if cls else agent_type


def llm_configured() -> bool:
    from agents.llm.client import llm_status

    return llm_status().configured


def timeframe_rank(timeframe: str) -> int:
    return TIMEFRAMES.index(timeframe) if timeframe in TIMEFRAMES else 99


@dataclass
class PlannedStepRow:
    """A step that has not started yet, shown so the trader sees the whole plan."""

    node_id: str
    agent_type: str
    position: int
    status: str = "pending"
    engine: str = ""
    duration_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    agent_cost: Decimal = Decimal("0")
    token_cost: Decimal = Decimal("0")
    output_summary: str = ""
    error: str = ""
    attempts: int = 0

    @property
    def total_cost(self) -> Decimal:
        return self.agent_cost + self.token_cost


def configured_engines(graph: dict[str, Any]) -> dict[str, str]:
    """node id → the reasoning engine its config asks for."""
    return {
        node.get("id"): (node.get("config") or {}).get("engine", "rules")
        for node in graph.get("nodes", [])
        if isinstance(node, dict)
    }


def step_row(step, *, llm_ready: bool, configured: str = "rules"):
    """Decorate a StepRun (or a planned step) for the row partial: its agent's name, tokens,
    and whether the rules engine ran in place of the LLM the config asked for."""
    step.agent_name = agent_name(step.agent_type)
    step.tokens = (step.tokens_in or 0) + (step.tokens_out or 0)
    finished = step.status in ("completed", "failed")
    asked_llm = configured == "llm" or step.engine == "llm"
    step.rules_fallback = asked_llm and finished and (step.engine == "rules" or not llm_ready)
    step.no_llm = step.rules_fallback and not llm_ready
    return step


def execution_steps(execution: PipelineExecution, *, llm_ready: bool) -> list:
    from pipelines.execution_setup import execution_plan

    done = {step.node_id: step for step in execution.steps.all()}
    engines = configured_engines(execution.graph)
    try:
        plan = execution_plan(execution.graph)
    except Exception:
        plan = []
    rows = []
    for position, planned in enumerate(plan):
        step = done.pop(planned.node_id, None) or PlannedStepRow(
            planned.node_id, planned.agent_type, position
        )
        rows.append(step_row(step, llm_ready=llm_ready, configured=engines.get(step.node_id)))
    rows += [
        step_row(step, llm_ready=llm_ready, configured=engines.get(step.node_id))
        for step in done.values()
    ]
    return rows


def execution_status_context(execution: PipelineExecution) -> dict[str, Any]:
    reports = list(execution.reports.all())
    run_report = next((r for r in reports if r.report_type == "execution"), None)
    llm_ready = llm_configured()
    return {
        "execution": execution,
        "waiting_for": waiting_for(execution),
        "report": run_report,
        "trade_reports": [r for r in reports if r.report_type == "trade_closed"],
        "llm_configured": llm_ready,
        "rules_fallback": not llm_ready
        and any(engine == "llm" for engine in configured_engines(execution.graph).values()),
    }


def waiting_for(execution: PipelineExecution) -> str:
    """What a waiting run waits for, in the trigger's words ("None of AAPL, MSFT meets price
    above 250"); "" when it is not waiting."""
    if execution.status != ExecutionStatus.WAITING_TRIGGER:
        return ""
    step = (
        execution.steps.filter(status=StepStatus.WAITING)
        .only("output_summary", "agent_type")
        .order_by("-position")
        .first()
    )
    if step is None:
        return ""
    reason = step.output_summary.removeprefix("Waiting: ").split("; next check")[0]
    return reason.removeprefix("Waiting for ").rstrip(".")


def execution_trades(execution: PipelineExecution) -> list:
    from trading.selectors import trades_for_user

    return list(trades_for_user(user=execution.owner).filter(execution_id=execution.pk))


def _epoch(value: str) -> int | None:
    """A chart axis time for an ISO timestamp, on the reader's wall clock."""
    from trading.localtime import chart_epoch

    try:
        return chart_epoch(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (TypeError, ValueError):
        return None


def execution_charts(execution: PipelineExecution) -> list[dict[str, Any]]:
    """Per symbol: the candles the run kept per timeframe, its levels and fills (§ charts)."""
    state = execution.state or {}
    signals = state.get("strategy_signals") or {}
    fills = state.get("trades") or []
    charts = []
    for symbol, data in (execution.market_data or {}).items():
        frames: dict[str, list] = {}
        for timeframe, frame in (data.get("timeframes") or {}).items():
            candles = []
            for candle in frame.get("candles") or []:
                moment = _epoch(candle.get("t"))
                if moment is not None:
                    candles.append(
                        [moment, candle.get("o"), candle.get("h"), candle.get("l"), candle.get("c")]
                    )
            if candles:
                frames[timeframe] = candles
        if not frames:
            continue
        signal = signals.get(symbol) or {}
        preferred = signal.get("timeframe") or state.get("primary_timeframe") or "5m"
        ordered = sorted(frames, key=timeframe_rank)
        default = preferred if preferred in frames else ordered[0]
        levels = []
        if signal:
            levels = [
                {"price": signal.get("entry_price"), "title": "Entry", "kind": "entry"},
                {"price": signal.get("stop_loss"), "title": "Stop", "kind": "stop"},
                {"price": signal.get("target_1"), "title": "Target 1", "kind": "target"},
                {"price": signal.get("target_2"), "title": "Target 2", "kind": "target"},
            ]
        markers = []
        for fill in fills:
            if fill.get("symbol") != symbol or not fill.get("filled_price"):
                continue
            buy = fill.get("action") == "buy"
            markers.append(
                {
                    "at": _epoch(fill.get("timestamp")),
                    "buy": buy,
                    "text": f"{'Buy' if buy else 'Sell'} {fill.get('filled_quantity') or ''} @ "
                    f"{Decimal(str(fill['filled_price'])):.2f}",
                }
            )
        charts.append(
            {
                "symbol": symbol,
                "timeframes": ordered,
                "default": default,
                "candles": frames,
                "levels": [level for level in levels if level["price"]],
                "markers": markers,
            }
        )
    return charts


def execution_context(execution: PipelineExecution) -> dict[str, Any]:
    llm_ready = llm_configured()
    steps = execution_steps(execution, llm_ready=llm_ready)
    return {
        **execution_status_context(execution),
        "steps": steps,
        "trades": execution_trades(execution),
        "charts": execution_charts(execution),
        "warnings": (execution.state or {}).get("warnings") or [],
        "queued_orders": [
            order
            for order in ((execution.state or {}).get("intended_orders") or {}).values()
            if order.get("outcome") == "queued"
        ],
    }


def pipeline_capitals_for_user(*, user: User, pipeline_ids=None) -> list[dict[str, Any]]:
    """Each of the user's pipelines with its name, mode and allocated capital (the starting
    balance its mode configuration names, $100,000 by default): one query, for analytics."""
    pipelines = Pipeline.objects.filter(owner=user).order_by("name")
    if pipeline_ids is not None:
        pipelines = pipelines.filter(pk__in=pipeline_ids)
    rows = []
    for pk, name, trading_mode, mode_config in pipelines.values_list(
        "pk", "name", "trading_mode", "mode_config"
    ):
        balance = (mode_config or {}).get("initial_balance") or "100000"
        rows.append(
            {"id": pk, "name": name, "trading_mode": trading_mode, "capital": Decimal(str(balance))}
        )
    return rows


# What GET /api/v1/pipelines answers per pipeline: everything but the graph, which is most of a
# pipeline's size (about 2.8 KB of the 3 KB at 7 agents) and is only read when asked for.
PIPELINE_SUMMARY_FIELDS = (
    "id",
    "name",
    "description",
    "symbols",
    "primary_timeframe",
    "run_mode",
    "trading_mode",
    "mode_config",
    "settings",
    "schedule",
    "signal_subscriptions",
    "status",
    "status_reason",
    "daily_budget",
    "template_key",
    "scanner_id",
    "broker_connection_id",
    "mode_changed_at",
    "next_scheduled_at",
    "created_at",
    "updated_at",
)


def pipeline_summaries_for_user(
    *, user: User, status: str | None = None, with_graph: bool = False
) -> QuerySet:
    """The user's pipelines as rows (dicts) for the API list, newest change first: the summary
    fields, the number of agents, when each last ran (one index lookup per pipeline on
    (pipeline, -created_at), instead of joining every execution and grouping), and the graph
    only `with_graph`."""
    last_run = PipelineExecution.objects.filter(pipeline=OuterRef("pk")).order_by("-created_at")
    pipelines = Pipeline.objects.filter(owner=user)
    if status:
        pipelines = pipelines.filter(status=status)
    fields = (*PIPELINE_SUMMARY_FIELDS, "graph") if with_graph else PIPELINE_SUMMARY_FIELDS
    return (
        pipelines.annotate(
            last_execution_at=Subquery(last_run.values("created_at")[:1]),
            node_count=Coalesce(
                Func(KeyTransform("nodes", "graph"), function="jsonb_array_length"),
                0,
                output_field=IntegerField(),
            ),
        )
        .order_by("-updated_at", "id")
        .values(*fields, "last_execution_at", "node_count")
    )
