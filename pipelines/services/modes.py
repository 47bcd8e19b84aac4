"""Trading mode changes (§12.4): what PAPER and LIVE require, the audited switch, and the
LIVE copy of a test pipeline."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.core.errors import Conflict
from pipelines.models import ACTIVE_EXECUTION_STATUSES, Pipeline, PipelineModeChange, TradingMode
from pipelines.schemas import validate_mode_config
from pipelines.services.editing import pipeline_clone
from pipelines.services.fields import free_pipeline_name
from trading.executors.factory import broker_connection_for
from trading.money import signed_money
from trading.selectors import closed_trade_stats


def _connection_missing(pipeline: Pipeline, mode: str) -> str | None:
    """Why the pipeline's Alpaca account for `mode` cannot trade yet (None when it can)."""
    connection = broker_connection_for(
        owner=pipeline.owner, mode=mode, connection=pipeline.broker_connection
    )
    label = "live" if mode == TradingMode.LIVE else "paper"
    if connection is None:
        return f"Add your Alpaca {label} account in Settings first."
    if not connection.is_verified:
        return f"Verify your Alpaca {label} connection in Settings first."
    return None


def live_mode_requirements(*, pipeline: Pipeline, confirmed: bool) -> dict[str, str]:
    """What stands between this pipeline and the mode LIVE (empty when nothing does)."""
    missing: dict[str, str] = {}
    if not confirmed:
        missing["confirmed"] = (
            "LIVE trades real money: confirm that you understand the risk (confirmed: true)."
        )
    simulated, _ = closed_trade_stats(user=pipeline.owner, trading_mode=TradingMode.SIMULATION)
    paper, paper_pnl = closed_trade_stats(user=pipeline.owner, trading_mode=TradingMode.PAPER)
    needed_sim = settings.MODE_UNLOCK_SIMULATED_TRADES
    needed_paper = settings.MODE_UNLOCK_PAPER_TRADES
    progress = []
    if simulated < needed_sim:
        progress.append(f"{needed_sim} closed simulated trades (you have {simulated})")
    if paper < needed_paper:
        progress.append(f"{needed_paper} closed paper trades (you have {paper})")
    elif paper_pnl <= 0:
        progress.append(f"a positive paper P&L (yours is {signed_money(paper_pnl)})")
    if progress:
        missing["mode"] = "LIVE unlocks after " + " and ".join(progress) + "."
    if problem := _connection_missing(pipeline, TradingMode.LIVE):
        missing["broker_connection"] = problem
    return missing


def paper_mode_requirements(*, pipeline: Pipeline) -> dict[str, str]:
    missing: dict[str, str] = {}
    simulated, _ = closed_trade_stats(user=pipeline.owner, trading_mode=TradingMode.SIMULATION)
    if simulated < settings.MODE_UNLOCK_SIMULATED_TRADES:
        missing["mode"] = (
            f"PAPER unlocks after {settings.MODE_UNLOCK_SIMULATED_TRADES} closed simulated trades "
            f"(you have {simulated})."
        )
    if problem := _connection_missing(pipeline, TradingMode.PAPER):
        missing["broker_connection"] = problem
    return missing


@transaction.atomic
def pipeline_mode_change(
    *, pipeline: Pipeline, changed_by: User, mode: str, confirmed: bool = False, reason: str = ""
) -> Pipeline:
    """Switch the trading mode after the §12.4 checks; every switch is audited."""
    if mode not in TradingMode.values:
        raise ValidationError({"mode": f"One of {', '.join(TradingMode.values)}."})
    if mode == pipeline.trading_mode:
        raise ValidationError({"mode": f"The pipeline is already in {mode}."})
    if pipeline.executions.filter(status__in=ACTIVE_EXECUTION_STATUSES).exists():
        raise Conflict("Stop the running execution before changing the trading mode.")
    if mode == TradingMode.LIVE:
        missing = live_mode_requirements(pipeline=pipeline, confirmed=confirmed)
    elif mode == TradingMode.PAPER:
        missing = paper_mode_requirements(pipeline=pipeline)
    else:
        missing = {}
    if missing:
        raise ValidationError(missing)
    previous = pipeline.trading_mode
    if mode in (TradingMode.PAPER, TradingMode.LIVE):
        pipeline.broker_connection = broker_connection_for(
            owner=pipeline.owner, mode=mode, connection=pipeline.broker_connection
        )
    pipeline.trading_mode = mode
    pipeline.mode_config = validate_mode_config(mode, {})
    pipeline.mode_changed_at = timezone.now()
    pipeline.mode_changed_by = changed_by
    pipeline.mode_change_reason = reason[:1000]
    pipeline.save()
    PipelineModeChange.objects.create(
        pipeline=pipeline,
        changed_by=changed_by,
        from_mode=previous,
        to_mode=mode,
        confirmed=confirmed,
        reason=reason[:1000],
    )
    return pipeline


@transaction.atomic
def pipeline_clone_as_live(
    *, pipeline: Pipeline, changed_by: User, confirmed: bool, name: str | None = None
) -> Pipeline:
    """A LIVE copy of a test pipeline; the original is left untouched. All or nothing."""
    clone = pipeline_clone(
        pipeline=pipeline,
        name=name or free_pipeline_name(owner=pipeline.owner, name=f"{pipeline.name} (live)"),
    )
    return pipeline_mode_change(
        pipeline=clone,
        changed_by=changed_by,
        mode=TradingMode.LIVE,
        confirmed=confirmed,
        reason=f"Cloned as live from “{pipeline.name}”",
    )
