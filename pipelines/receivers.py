"""Receivers of other apps' Django signals."""

from pipelines.blueprints import demo_pipelines_seed


def demo_pipelines_on_seed(sender, user, created, **kwargs):
    from django.db import transaction

    from pipelines.demo import demo_history_seed

    demo_pipelines_seed(owner=user)
    # Orders are placed in autocommit (their intent row must be durable before the broker
    # call), so the replayed sessions run once the account is committed.
    transaction.on_commit(lambda: demo_history_seed(owner=user))


def trade_reports_on_close(sender, trade_ids, **kwargs):
    from pipelines.reports import trade_report_create
    from trading.models import Trade

    for trade in Trade.objects.filter(pk__in=trade_ids):
        trade_report_create(trade=trade)


def run_mode_after_execution(sender, execution_id, pipeline_id=None, cycling=None, **kwargs):
    from pipelines.runmodes import after_execution

    after_execution(execution_id=execution_id, pipeline_id=pipeline_id, cycling=cycling)


def run_mode_after_trade_opened(sender, trade_id, **kwargs):
    from pipelines.runmodes import after_trade_opened
    from trading.models import Trade

    trade = Trade.objects.filter(pk=trade_id).only("pipeline_id").first()
    if trade is not None:
        after_trade_opened(pipeline_id=trade.pipeline_id)


def run_mode_after_trades_closed(sender, trade_ids, **kwargs):
    from pipelines.runmodes import after_trades_closed
    from trading.models import Trade

    after_trades_closed(trades=list(Trade.objects.filter(pk__in=trade_ids)))


def pipeline_names_for_trading(sender, owner, pipeline_ids=None, **kwargs):
    from pipelines.selectors import pipeline_names

    return pipeline_names(user=owner, pipeline_ids=pipeline_ids)


def runs_sql_for_billing(sender, **kwargs):
    from pipelines.run_costs import runs_sql

    return runs_sql()


def step_medians_for_billing(sender, owner, since, per_symbol_agents, **kwargs):
    from pipelines.run_costs import step_medians

    return step_medians(owner=owner, since=since, per_symbol_agents=per_symbol_agents)


def active_pipelines_for_billing(sender, owner, **kwargs):
    from pipelines.run_costs import active_pipeline_ids

    return active_pipeline_ids(owner=owner)
