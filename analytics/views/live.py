"""What the websocket pushes to the analytics pages: a signal that a trade closed."""

from __future__ import annotations

from django.utils.html import format_html

from trading.live_positions import changed_positions


def live_analytics_fragments(*, payload: dict) -> list[str]:
    """A closed trade changes the cards and the curve: the socket sends a signal element and the
    page re-requests its live partial for the period and mode on screen (the socket does not
    know them; the page does), rendered by the same view as on load."""
    closed = [p for p in changed_positions(payload) if p.get("status") == "closed"]
    if not closed:
        return []
    return [
        format_html(
            '<div id="analytics-signal" hx-swap-oob="true" hidden data-closed="{}"></div>',
            ",".join(str(p.get("id", "")) for p in closed),
        )
    ]
