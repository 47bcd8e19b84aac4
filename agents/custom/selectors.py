"""Custom strategy reads: a trader's strategies (owner-scoped), the active version a pipeline
runs, the administrators' queue."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from agents.models import CustomStrategy, CustomStrategyRun, CustomStrategyStatus


def strategies_for_user(*, user) -> QuerySet[CustomStrategy]:
    """Every version the user owns, newest first (the page groups them by lineage)."""
    return CustomStrategy.objects.filter(owner=user).order_by("name", "lineage", "-version")


def strategy_for_user(*, user, strategy_id) -> CustomStrategy:
    """One of the user's versions; anyone else's (or none) is a 404."""
    try:
        return CustomStrategy.objects.get(pk=strategy_id, owner=user)
    except (CustomStrategy.DoesNotExist, ValueError, TypeError) as missing:
        raise Http404("No such custom strategy") from missing


def strategy_versions(*, strategy: CustomStrategy) -> QuerySet[CustomStrategy]:
    return CustomStrategy.objects.filter(
        lineage=strategy.lineage, owner_id=strategy.owner_id
    ).order_by("-version")


def active_strategies_for_user(*, user) -> QuerySet[CustomStrategy]:
    """What the builder's palette offers as "Custom: <name>"."""
    return CustomStrategy.objects.filter(owner=user, status=CustomStrategyStatus.ACTIVE).order_by(
        "name"
    )


def active_strategy(*, owner_id, lineage) -> CustomStrategy | None:
    """The approved version a pipeline of `owner_id` runs for `lineage` (None: none is)."""
    try:
        return CustomStrategy.objects.get(
            lineage=lineage, owner_id=owner_id, status=CustomStrategyStatus.ACTIVE
        )
    except (CustomStrategy.DoesNotExist, ValueError, TypeError):
        return None


def strategies_pending_review() -> QuerySet[CustomStrategy]:
    return (
        # A version still being reviewed (its dry run not recorded yet) is not in the queue.
        CustomStrategy.objects.filter(
            status=CustomStrategyStatus.PENDING_REVIEW, dry_run_result__isnull=False
        )
        .select_related("owner")
        .order_by("submitted_at")
    )


def strategy_runs(*, strategy: CustomStrategy, limit: int = 50) -> list[CustomStrategyRun]:
    return list(
        CustomStrategyRun.objects.filter(
            strategy__lineage=strategy.lineage, owner_id=strategy.owner_id
        ).order_by("-created_at")[:limit]
    )


def strategy_performance(*, strategy: CustomStrategy) -> dict:
    """Trades opened by runs of this strategy (any version) and their realized P&L: the trades
    of the executions whose custom step returned BUY or SELL for that symbol."""
    from django.db.models import Exists, OuterRef, Sum

    from trading.models import Trade

    signalled = CustomStrategyRun.objects.filter(
        strategy__lineage=strategy.lineage,
        owner_id=strategy.owner_id,
        execution_id=OuterRef("execution_id"),
        symbol=OuterRef("symbol"),
        result__in=["BUY", "SELL"],
    )
    trades = Trade.objects.filter(owner_id=strategy.owner_id).filter(Exists(signalled))
    totals = trades.aggregate(pnl=Sum("realized_pnl"))
    return {"trades": trades.count(), "realized_pnl": totals["pnl"] or 0}
