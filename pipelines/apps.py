"""Django app configuration for pipelines."""

from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines"

    def ready(self):
        from accounts.demo import demo_seeded
        from pipelines.receivers import demo_pipelines_on_seed, trade_reports_on_close
        from trading.hooks import trades_closed

        demo_seeded.connect(demo_pipelines_on_seed, dispatch_uid="pipelines.demo_pipelines")
        trades_closed.connect(trade_reports_on_close, dispatch_uid="pipelines.trade_reports")
