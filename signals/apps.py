"""Django app configuration for signals: connects the receivers of pipeline and scanner changes."""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class SignalsConfig(AppConfig):
    name = "signals"
    verbose_name = "Signals"

    def ready(self):
        from accounts.demo import demo_seeded
        from billing.hooks import plan_changed
        from pipelines.hooks import symbol_source_requested
        from pipelines.models import Pipeline
        from signals import receivers
        from signals.models import Scanner

        for signal in (post_save, post_delete):
            signal.connect(
                receivers.pipeline_changed,
                sender=Pipeline,
                dispatch_uid=f"signals.pipeline_changed.{signal is post_save}",
            )
            signal.connect(
                receivers.scanner_changed,
                sender=Scanner,
                dispatch_uid=f"signals.scanner_changed.{signal is post_save}",
            )
        symbol_source_requested.connect(receivers.symbol_source, dispatch_uid="signals.scanners")
        demo_seeded.connect(receivers.demo_scanner_on_seed, dispatch_uid="signals.demo_scanner")
        plan_changed.connect(
            receivers.dispatchers_reread_on_plan_change, dispatch_uid="signals.plan_changed"
        )
