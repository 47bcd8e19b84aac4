"""Django app configuration for analytics."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from analytics import receivers
        from pipelines.hooks import live_fragments_requested

        live_fragments_requested.connect(
            receivers.live_fragments_for_account_event, dispatch_uid="analytics.live"
        )
