"""Analytics page routes under /analytics/: performance, a pipeline's tab, the comparison,
a backtest's results, reports, costs and the exports."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.performance, name="performance"),
    path("pipelines/<uuid:pipeline_id>/", views.pipeline_performance, name="pipeline"),
    path("compare/", views.compare, name="compare"),
    path("backtests/<uuid:backtest_id>/", views.backtest_results, name="backtest"),
    path("reports/", views.reports, name="reports"),
    path("costs/", views.costs, name="costs"),
    path("export/trades.csv", views.export_trades_csv, name="export-trades"),
    path("export/equity.csv", views.export_equity_csv, name="export-equity"),
    path("export/costs.csv", views.export_costs_csv, name="export-costs"),
    path("export/report.pdf", views.export_pdf, name="export-pdf"),
    path("export/pdf/<str:job_id>/", views.pdf_job, name="pdf-job"),
    path("export/pdf/<str:job_id>/download/", views.pdf_job_download, name="pdf-job-download"),
]
