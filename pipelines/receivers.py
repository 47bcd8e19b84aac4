"""Receivers of other apps' Django signals."""

from pipelines.blueprints import demo_pipelines_seed


def demo_pipelines_on_seed(sender, user, created, **kwargs):
    demo_pipelines_seed(owner=user)


def trade_reports_on_close(sender, trade_ids, **kwargs):
    from pipelines.reports import trade_report_create
    from trading.models import Trade

    for trade in Trade.objects.filter(pk__in=trade_ids):
        trade_report_create(trade=trade)
