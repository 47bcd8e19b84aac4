"""The signal log's retention: old rows deleted in batches."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from signals import conf
from signals.models import SignalEvent, SignalMatch


def signal_log_cleanup(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete log rows older than SIGNAL_LOG_RETENTION_DAYS, in batches so no single
    transaction holds a long lock on the table the dispatcher writes to."""
    cutoff = (now or timezone.now()) - timedelta(days=conf.log_retention_days())
    deleted = 0
    while True:
        batch = list(
            SignalEvent.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not batch:
            return deleted
        with transaction.atomic():
            SignalMatch.objects.filter(event_id__in=batch).delete()
            SignalEvent.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
