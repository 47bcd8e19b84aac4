"""Django signals the trading ledger sends; apps above `trading` (pipelines) listen."""

from django.dispatch import Signal

# A trade was opened (kwargs: trade_id). Daily trade counters listen here.
trade_opened = Signal()

# Trades were closed (kwargs: trade_ids). The closing report and daily P&L listen here.
trades_closed = Signal()

# Asked for the names of the pipelines a trader's positions and trades came from (trading keeps
# only the pipeline id). kwargs: owner, pipeline_ids (None: every pipeline of the owner). A
# receiver answers with {pipeline id: name}.
pipeline_names_requested = Signal()


def pipeline_names(*, owner, pipeline_ids=None) -> dict:
    """{pipeline id: name} of `owner`'s pipelines (all of them when `pipeline_ids` is None)."""
    names = {}
    for _receiver, answer in pipeline_names_requested.send(
        sender=None, owner=owner, pipeline_ids=pipeline_ids
    ):
        names.update(answer or {})
    return names
