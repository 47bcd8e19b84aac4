"""Django app configuration for pipelines."""

from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Pipelines"

    def ready(self):
        from accounts.demo import demo_seeded
        from billing import hooks as billing_hooks
        from pipelines import receivers
        from pipelines.hooks import execution_finished
        from trading.hooks import pipeline_names_requested, trade_opened, trades_closed

        demo_seeded.connect(receivers.demo_pipelines_on_seed, dispatch_uid="pipelines.demo")
        pipeline_names_requested.connect(
            receivers.pipeline_names_for_trading, dispatch_uid="pipelines.names"
        )
        # What billing (below) asks about runs: billing.hooks.
        for signal, answer in (
            (billing_hooks.runs_sql_requested, receivers.runs_sql_for_billing),
            (billing_hooks.step_medians_requested, receivers.step_medians_for_billing),
            (billing_hooks.active_pipelines_requested, receivers.active_pipelines_for_billing),
        ):
            signal.connect(answer, dispatch_uid=f"pipelines.billing.{answer.__name__}")
        trades_closed.connect(receivers.trade_reports_on_close, dispatch_uid="pipelines.reports")
        trades_closed.connect(
            receivers.run_mode_after_trades_closed, dispatch_uid="pipelines.runmodes.closed"
        )
        trade_opened.connect(
            receivers.run_mode_after_trade_opened, dispatch_uid="pipelines.runmodes.opened"
        )
        execution_finished.connect(
            receivers.run_mode_after_execution, dispatch_uid="pipelines.runmodes.finished"
        )
        from pipelines import notifications

        trade_opened.connect(notifications.on_trade_opened, dispatch_uid="pipelines.notify.opened")
        trades_closed.connect(
            notifications.on_trades_closed, dispatch_uid="pipelines.notify.closed"
        )
        execution_finished.connect(
            notifications.on_execution_finished, dispatch_uid="pipelines.notify.finished"
        )
