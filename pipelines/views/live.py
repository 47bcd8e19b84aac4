"""Live fragments: the HTML the websocket consumer pushes for execution and account events."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from pipelines import selectors
from pipelines.hooks import live_fragments_from_readers
from pipelines.models import (
    PipelineExecution,
)
from pipelines.selectors import (
    configured_engines,
    execution_charts,
    execution_status_context,
    execution_trades,
    llm_configured,
    step_row,
)

# --- Live fragments (rendered by the HTML websocket consumer) ---------------------------------
CHART_AGENTS = {"market_data_agent", "strategy_agent", "trade_manager_agent"}
EXECUTION_ROW_EVENTS = {"execution_started", "execution_waiting", "execution_completed", "error"}


def live_execution_fragments(*, user, execution_id, payload: dict[str, Any]) -> list[str]:
    """What one event of a run changes on its page, as out-of-band fragments."""
    from django.template.loader import render_to_string

    try:
        execution = selectors.execution_get(user=user, execution_id=execution_id)
    except PipelineExecution.DoesNotExist:
        return []
    event = payload.get("event")
    fragments = []
    agent_id = payload.get("agent_id")
    if agent_id and event in ("agent_started", "agent_completed", "error"):
        step = next((s for s in execution.steps.all() if s.node_id == agent_id), None)
        if step is not None:
            fragments.append(
                render_to_string(
                    "pipelines/execution.html#step-row",
                    {
                        "step": step_row(
                            step,
                            llm_ready=llm_configured(),
                            configured=configured_engines(execution.graph).get(step.node_id),
                        ),
                        "oob": True,
                    },
                )
            )
    fragments.append(
        render_to_string(
            "pipelines/execution.html#status", {**execution_status_context(execution), "oob": True}
        )
    )
    if event in ("trade_executed", "execution_completed"):
        fragments.append(
            render_to_string(
                "pipelines/execution.html#trades",
                {"trades": execution_trades(execution), "execution": execution, "oob": True},
            )
        )
    if event == "execution_completed" or (
        event == "agent_completed" and payload.get("agent_type") in CHART_AGENTS
    ):
        fragments.append(
            render_to_string(
                "pipelines/execution.html#charts",
                {"charts": execution_charts(execution), "execution": execution, "oob": True},
            )
        )
    return fragments


def live_user_fragments(*, user, payload: dict[str, Any], topics: set[str]) -> list[str]:
    """What one event of a user changes on the page they look at: the bell and a toast for a
    notification, a position row, an execution row."""
    from django.template.loader import render_to_string

    from accounts.selectors import notifications_unread_count
    from trading.views import live_position_rows

    event = payload.get("event")
    if event == "notification":
        return [
            render_to_string(
                "partials/bell.html",
                {"unread": notifications_unread_count(user=user), "oob": True},
            ),
            render_to_string(
                "partials/toast.html",
                {
                    "level": payload.get("level", "info"),
                    "title": payload.get("title", ""),
                    "message": payload.get("message", ""),
                    "link": payload.get("link", ""),
                },
            ),
        ]
    if event == "position_updated" and "positions" in topics:
        return live_position_rows(user=user, payload=payload)
    if event in EXECUTION_ROW_EVENTS and "executions" in topics and payload.get("execution_id"):
        try:
            execution = selectors.execution_row_get(user=user, execution_id=payload["execution_id"])
        except (PipelineExecution.DoesNotExist, ValidationError):
            return []
        return [
            render_to_string(
                "pipelines/executions.html#execution-row", {"execution": execution, "oob": True}
            )
        ]
    if event == "position_updated" and "analytics" in topics:
        return live_fragments_from_readers(user=user, payload=payload, topics=topics)
    # A backtest's page subscribes to that backtest only ("backtest:<id>"), a sweep's page to
    # that sweep ("sweep:<id>"): their cards' ids are the same on every such page.
    if event == "backtest_progress":
        from pipelines.backtest.live import backtest_live_fragments

        return backtest_live_fragments(user=user, payload=payload, topics=topics)
    return []
