"""Analytics' answers to the signals of the apps it reads."""

from __future__ import annotations

from analytics.views.live import live_analytics_fragments


def live_fragments_for_account_event(sender, *, payload, topics, **kwargs) -> list[str]:
    """The analytics page's live signal, for a page subscribed to "analytics"."""
    if "analytics" not in topics:
        return []
    return live_analytics_fragments(payload=payload)
