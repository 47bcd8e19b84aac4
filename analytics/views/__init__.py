"""Analytics views, split by concern: the dashboard (home), the analytics pages (performance,
backtest results, comparison, reports, costs), the downloads (CSV, PDF and its job page) and
the live fragment the websocket pushes; helpers they share. `analytics.urls`,
`analytics.performance_urls` and the pipelines consumer keep using `analytics.views.<name>`."""

from analytics.views.downloads import (
    export_costs_csv,
    export_equity_csv,
    export_pdf,
    export_trades_csv,
    pdf_job,
    pdf_job_download,
)
from analytics.views.home import dashboard
from analytics.views.live import live_analytics_fragments
from analytics.views.pages import (
    backtest_results,
    compare,
    costs,
    performance,
    pipeline_performance,
    reports,
)

__all__ = [
    "backtest_results",
    "compare",
    "costs",
    "dashboard",
    "export_costs_csv",
    "export_equity_csv",
    "export_pdf",
    "export_trades_csv",
    "live_analytics_fragments",
    "pdf_job",
    "pdf_job_download",
    "performance",
    "pipeline_performance",
    "reports",
]
