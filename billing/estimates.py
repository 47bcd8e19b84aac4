"""Cost estimates as the trader sees them (spec §9): per agent, per run, per day and per month,
against the budgets left, from the owner's own history once there is some; and how close past
estimates came to what the runs then cost (§9.4)."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_today
from billing import hooks
from billing.estimator import (
    PER_SYMBOL_AGENTS,
    TRADING_DAYS_PER_MONTH,
    CostEstimate,
    estimate_pipeline_cost,
)
from billing.selectors import spend_summary
from trading.money import cost

# A median needs a few runs behind it before it replaces the built-in figures.
HISTORY_MIN_STEPS = 3
HISTORY_DAYS = 30
HISTORY_CACHE_SECONDS = 300
CENT = Decimal("0.01")
PCT = Decimal("0.1")


def agent_history(*, owner: User, days: int = HISTORY_DAYS) -> dict[str, dict[str, float]]:
    """The owner's median runtime and tokens per step (per symbol for the agents that work
    once per symbol), per agent type and engine, over the last `days` (only where there are
    HISTORY_MIN_STEPS steps or more). The display estimate and the budget gate's stored
    estimate both come from here; the steps are the pipelines app's, asked through
    billing.hooks (pipelines.run_costs.step_medians answers)."""
    medians = hooks.step_medians(
        owner=owner,
        since=timezone.now() - timedelta(days=days),
        per_symbol_agents=frozenset(PER_SYMBOL_AGENTS),
    )
    return {
        f"{row.agent_type}:{row.engine}": {
            "seconds": float(row.duration_ms) / 1000,
            "tokens_in": float(row.tokens_in),
            "tokens_out": float(row.tokens_out),
            "steps": row.steps,
        }
        for row in medians
        if row.steps >= HISTORY_MIN_STEPS
    }


def owner_agent_history(*, owner: User) -> dict[str, dict[str, float]]:
    """agent_history, kept per owner for HISTORY_CACHE_SECONDS once there is some: medians over
    30 days barely move from one run to the next, while the query reads every step of them
    (~160 ms for 40k steps on a busy machine) and the budget gate asks before every run. An
    owner without history yet is asked again each time, so the first medians count at once."""
    key = f"billing:agent-history:{owner.pk}"
    history = cache.get(key)
    if history is None:
        history = agent_history(owner=owner)
        if history:
            cache.set(key, history, HISTORY_CACHE_SECONDS)
    return history


def budget_comparison(
    estimate: CostEstimate, *, owner: User, pipeline_daily_limit: Decimal | None = None
) -> dict[str, Any]:
    """§9.2's comparison, against what is left today and this month: warnings at 80 % of a
    budget and when the estimate would exceed it."""
    spend = spend_summary(owner=owner)
    warnings: list[str] = []
    figures: dict[str, Any] = {}
    per_run = estimate.cost_per_execution
    daily_high = estimate.daily_cost_range[1]
    monthly_high = estimate.monthly_cost_range[1]
    checks = (
        ("daily", owner.budget_limit_daily, spend["today"], daily_high),
        ("monthly", owner.budget_limit_monthly, spend["month"], monthly_high),
        ("pipeline_daily", pipeline_daily_limit, None, daily_high),
    )
    run_fits = True
    for name, limit, spent, planned in checks:
        if limit is None:
            figures[name] = None
            continue
        remaining = max(limit - (spent or Decimal(0)), Decimal(0))
        usage = (planned / limit * 100).quantize(PCT) if limit > 0 else None
        figures[name] = {
            "limit": limit,
            "spent": spent,
            "remaining": remaining,
            "planned": planned,
            "usage_pct": usage,
        }
        label = {
            "daily": "daily budget",
            "monthly": "monthly budget",
            "pipeline_daily": "this pipeline's daily budget",
        }[name]
        if name != "pipeline_daily" and per_run > remaining:
            run_fits = False
            warnings.append(
                f"One run (~{cost(per_run)}) is more than what is left of your {label} "
                f"({cost(remaining)}): it would be refused."
            )
        if planned > limit:
            warnings.append(
                f"Estimated {name.replace('pipeline_', '')} cost ({cost(planned)}) may exceed "
                f"the {label} ({cost(limit)})."
            )
        elif usage is not None and planned > limit * Decimal("0.8"):
            warnings.append(f"Estimated cost will use ~{usage:.0f}% of the {label}.")
    return {
        "within_budget": not warnings,
        "run_fits": run_fits,
        "warnings": warnings,
        **figures,
    }


def cost_estimate(
    *,
    owner: User,
    graph: dict[str, Any],
    run_mode: str = "run_once",
    schedule: dict[str, Any] | None = None,
    symbol_count: int = 1,
    pipeline_daily_limit: Decimal | None = None,
) -> dict[str, Any]:
    """The estimate the builder, the pipeline page and the API show (UnpricedModel when a
    model has no price)."""
    history = owner_agent_history(owner=owner)
    estimate = estimate_pipeline_cost(
        graph=graph,
        run_mode=run_mode,
        schedule=schedule,
        symbol_count=symbol_count,
        history=history,
        at=user_today(owner),
    )
    low, high = estimate.daily_executions_range
    agents = []
    for agent_type, per_run in sorted(estimate.cost_by_agent().items()):
        rental = estimate.agent_costs.get(agent_type, {})
        tokens = estimate.token_costs.get(agent_type)
        agents.append(
            {
                "agent_type": agent_type,
                "hourly_rate": rental.get("hourly_rate"),
                "duration_minutes": round(rental.get("duration_minutes", 0.0), 3),
                "rental_cost": rental.get("cost", Decimal(0)),
                "model": tokens["model"] if tokens else None,
                "input_tokens": tokens["input_tokens"] if tokens else 0,
                "output_tokens": tokens["output_tokens"] if tokens else 0,
                "token_cost": tokens["cost"] if tokens else Decimal(0),
                "per_run": per_run,
                "per_day": [per_run * low, per_run * high],
                "per_month": [
                    per_run * low * TRADING_DAYS_PER_MONTH,
                    per_run * high * TRADING_DAYS_PER_MONTH,
                ],
                "from_history": any(key.startswith(f"{agent_type}:") for key in history),
            }
        )
    return {
        "run_mode": run_mode,
        "cost_per_execution": estimate.cost_per_execution,
        "total_agent_cost": estimate.total_agent_cost,
        "total_token_cost": estimate.total_token_cost,
        "estimated_duration_minutes": estimate.estimated_duration_minutes,
        "daily_executions_range": [low, high],
        "daily_cost_range": list(estimate.daily_cost_range),
        "monthly_cost_range": list(estimate.monthly_cost_range),
        "confidence": estimate.confidence,
        "from_history": bool(history),
        "agents": agents,
        "budget": budget_comparison(
            estimate, owner=owner, pipeline_daily_limit=pipeline_daily_limit
        ),
    }


# The runs admitted with an estimate and what they cost, then each agent type's part: the runs
# and steps are the pipelines app's (`completed_runs`, `step_costs`: the SQL it answers with
# through billing.hooks.runs_sql). bench/bench_estimates.py, 5,000 runs, 30 reads each, back to
# back (2026-12-02, load average 8.4 on 2 cores, the runs' and steps' SQL joined as subqueries):
# these two queries p50 429 ms / p99 763 ms; the ORM (a subquery for the cost, a grouped Sum)
# p50 1358 ms / p99 2240 ms (before, tables joined by name, at load 3.3: 112 / 226 ms against
# 349 / 653 ms).
_ACCURACY_SQL = """
SELECT r.execution_id, r.estimated_cost, r.estimated_by_agent, e.total_cost
  FROM billing_budgetreservation r
  JOIN ({completed_runs}) e ON e.id = r.execution_id
 WHERE r.owner_id = %s AND r.estimated_cost IS NOT NULL AND e.finished_at >= %s
"""

_ACTUAL_BY_AGENT_SQL = """
SELECT s.execution_id, s.agent_type, SUM(s.cost)
  FROM ({step_costs}) s
 WHERE s.execution_id = ANY(%s)
 GROUP BY s.execution_id, s.agent_type
"""


@functools.cache
def _accuracy_sql() -> tuple[str, str]:
    """The two statements with the runs' and steps' SQL, composed once."""
    runs = hooks.runs_sql()
    return (
        _ACCURACY_SQL.format(completed_runs=runs.completed),
        _ACTUAL_BY_AGENT_SQL.format(step_costs=runs.step_costs),
    )


# MAPE divides by what a run cost, so a run that cost next to nothing (a rules-engine run is a
# few hundred-millionths of a dollar) gives an error of hundreds of thousands of percent on an
# amount nobody is billed for. MAPE therefore counts only runs that cost at least a cent (the
# smallest amount usage fees are billed in); the headline figure is the symmetric MAPE, which
# every run counts in.
MAPE_MIN_ACTUAL = Decimal("0.01")


def _ape(estimated: Decimal, actual: Decimal) -> Decimal | None:
    """Absolute percentage error of one estimate (None when the run cost under the floor)."""
    if actual < MAPE_MIN_ACTUAL:
        return None
    return abs(estimated - actual) / actual * 100


def _sape(estimated: Decimal, actual: Decimal) -> Decimal:
    """Symmetric absolute percentage error, |e − a| / ((|e| + |a|) / 2): from 0 (exact) to
    200% (one of them zero), defined for runs that cost nothing (the sMAPE of the M3/M4
    forecasting competitions; Hyndman & Koehler 2006 on MAPE's trouble near zero)."""
    scale = abs(estimated) + abs(actual)
    if scale == 0:
        return Decimal(0)
    return abs(estimated - actual) / scale * 200


class _Errors:
    """One estimate-against-actual series (a run's total, or one agent's part of runs)."""

    def __init__(self) -> None:
        self.estimated = Decimal(0)
        self.actual = Decimal(0)
        self.symmetric: list[Decimal] = []
        self.percentage: list[Decimal] = []

    def add(self, estimated: Decimal, actual: Decimal) -> None:
        self.estimated += estimated
        self.actual += actual
        self.symmetric.append(_sape(estimated, actual))
        error = _ape(estimated, actual)
        if error is not None:
            self.percentage.append(error)

    def figures(self) -> dict[str, Any]:
        return {
            "estimated": self.estimated,
            "actual": self.actual,
            "smape_pct": _mean(self.symmetric),
            "mape_pct": _mean(self.percentage),
            "mape_runs": len(self.percentage),
        }


def _accuracy_rows(*, owner: User, since) -> tuple[list, dict[Any, dict[str, Decimal]]]:
    """The owner's completed runs with a stored estimate, and what each agent type cost in
    each of them."""
    accuracy_sql, actual_by_agent_sql = _accuracy_sql()
    actual_by_agent: dict[Any, dict[str, Decimal]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(accuracy_sql, [owner.pk, since])
        runs = cursor.fetchall()
        if runs:
            cursor.execute(actual_by_agent_sql, [[row[0] for row in runs]])
            for execution_id, agent_type, agent_cost in cursor.fetchall():
                actual_by_agent[execution_id][agent_type] = agent_cost
    return runs, actual_by_agent


def estimate_accuracy(*, owner: User, days: int = 30) -> dict[str, Any]:
    """How close the estimates runs were admitted with came to what they cost, overall and per
    agent type, over the owner's completed runs of the last `days`: the symmetric MAPE over
    every run (`smape_pct`, the figure shown), and the plain MAPE over the runs that cost at
    least MAPE_MIN_ACTUAL (`mape_pct`, None when none did)."""
    runs, actual_by_agent = _accuracy_rows(owner=owner, since=timezone.now() - timedelta(days=days))
    overall = _Errors()
    per_agent: dict[str, _Errors] = defaultdict(_Errors)
    for execution_id, estimated, by_agent, actual in runs:
        overall.add(estimated, actual)
        actuals = actual_by_agent.get(execution_id, {})
        if isinstance(by_agent, str):  # Django leaves jsonb undecoded in raw cursors
            by_agent = json.loads(by_agent)
        for agent_type, agent_estimate in (by_agent or {}).items():
            per_agent[agent_type].add(
                Decimal(str(agent_estimate)), actuals.get(agent_type, Decimal(0))
            )
    count = len(runs)
    return {
        "days": days,
        "sample_size": count,
        "total_estimated": overall.estimated,
        "total_actual": overall.actual,
        **{
            key: value
            for key, value in overall.figures().items()
            if key.endswith(("_pct", "_runs"))
        },
        "mape_min_actual": MAPE_MIN_ACTUAL,
        "confidence": "high" if count >= 20 else "medium" if count >= 5 else "low",
        "agents": [
            {"agent_type": agent_type, "runs": len(errors.symmetric), **errors.figures()}
            for agent_type, errors in sorted(per_agent.items())
            # Free agents (estimated and charged nothing) say nothing about the estimator.
            if errors.estimated or errors.actual
        ],
    }


def _mean(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(PCT, ROUND_HALF_UP)
