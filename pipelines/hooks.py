"""Django signals through which apps above `pipelines` (run modes, signals) plug into runs.

Imports point one way (… ← pipelines ← signals), so pipelines announces and asks through
signals instead of importing the apps that answer.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent after an execution finished (completed, failed or cancelled) and its row committed.
# kwargs: execution_id, pipeline_id, and `cycling` when the sender knows whether the pipeline was
# active in a cycling run mode as the run ended (None: ask the database). Run-mode handling
# (continuous restarts, limits) listens here.
execution_finished = Signal()

# Asked when a run needs to resolve scanner tickers for an owner; a receiver answers with an
# object that has `scanner_tickers(scanner_id) -> list[str]`. kwargs: owner.
symbol_source_requested = Signal()


# Asked, for a user's account event, for the live fragments of the apps that only read (the
# analytics page's signal that closed trades changed its figures). kwargs: user, payload,
# topics (what the page subscribed to). A receiver answers with a list of HTML fragments.
live_fragments_requested = Signal()


def live_fragments_from_readers(*, user, payload: dict, topics: set[str]) -> list[str]:
    """The fragments the reading apps add for one account event."""
    fragments: list[str] = []
    for _receiver, answer in live_fragments_requested.send(
        sender=None, user=user, payload=payload, topics=topics
    ):
        fragments.extend(answer or [])
    return fragments


def symbol_source_for(*, owner):
    for _receiver, source in symbol_source_requested.send(sender=None, owner=owner):
        if source is not None:
            return source
    return None
