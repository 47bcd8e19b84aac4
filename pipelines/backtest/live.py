"""What a backtest event changes on the page watching it: a backtest's progress card, a
walk-forward's windows, or a sweep's progress, table and heatmap."""

from __future__ import annotations

from pipelines.backtest.sweep_views import sweep_live_fragment
from pipelines.backtest.views import backtest_progress_fragment


def backtest_page_shows(payload: dict, topics: set[str]) -> bool:
    """Whether a backtest event changes the page listening to `topics` (see below)."""
    if f"backtest:{payload.get('backtest_id')}" in topics:
        return True
    walkforward_id = payload.get("walkforward_id")
    if walkforward_id and f"walkforward:{walkforward_id}" in topics:
        return True
    sweep_id = payload.get("sweep_id")
    return bool(sweep_id) and f"sweep:{sweep_id}" in topics and payload.get("status") != "running"


def backtest_live_fragments(*, user, payload: dict, topics: set[str]) -> list[str]:
    """What a backtest event changes on the page watching it: a backtest's progress card
    ("backtest:<id>"), a walk-forward's windows ("walkforward:<id>"), or a sweep's progress,
    table and heatmap ("sweep:<id>") when one of its combinations finishes or it ends."""
    if not backtest_page_shows(payload, topics):
        return []
    if f"backtest:{payload.get('backtest_id')}" in topics:
        return backtest_progress_fragment(user=user, backtest_id=payload.get("backtest_id"))
    if payload.get("walkforward_id"):
        from pipelines.backtest.walkforward_views import walkforward_live_fragment

        return walkforward_live_fragment(user=user, walkforward_id=payload["walkforward_id"])
    return sweep_live_fragment(user=user, sweep_id=payload["sweep_id"])
