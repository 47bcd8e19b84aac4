"""Receivers of Django signals: pipeline/scanner changes reach the dispatchers; scanners answer
the engine's request for scanner tickers; the demo account gets a scanner."""

from __future__ import annotations

from django.db import transaction

from signals.invalidation import invalidation_publish


def pipeline_changed(sender, instance, **kwargs):
    # After commit: a dispatcher reloading the row must see the new values.
    transaction.on_commit(lambda: invalidation_publish(kind="pipeline", object_id=instance.pk))


def scanner_changed(sender, instance, **kwargs):
    transaction.on_commit(lambda: invalidation_publish(kind="scanner", object_id=instance.pk))


class OwnerScanners:
    """The engine's symbol source (pipelines.hooks): a user's scanners, by id."""

    def __init__(self, owner):
        self.owner = owner

    def scanner_tickers(self, scanner_id) -> list[str]:
        from signals.models import Scanner

        try:
            scanner = Scanner.objects.filter(owner=self.owner, pk=int(scanner_id)).first()
        except (TypeError, ValueError):
            return []
        return list(scanner.tickers) if scanner is not None else []


def symbol_source(sender, owner, **kwargs):
    return OwnerScanners(owner)


def dispatchers_reread_on_plan_change(sender, owner, **kwargs):
    """The owner's plan changed (billing.hooks.plan_changed, after commit): the signal buckets
    their on-signal pipelines may hear follow the tier, so dispatchers re-read them now."""
    from pipelines.models import Pipeline, RunMode

    listening = Pipeline.objects.filter(owner=owner, run_mode=RunMode.RUN_ON_SIGNAL)
    for pipeline_id in listening.values_list("pk", flat=True):
        invalidation_publish(kind="pipeline", object_id=pipeline_id)


def demo_scanner_on_seed(sender, user, created, **kwargs):
    from signals.services import demo_scanner_seed

    demo_scanner_seed(owner=user)
