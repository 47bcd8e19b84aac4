"""The exports of a scope as downloads: trades, equity and costs as CSV, and the performance PDF
(built in the request when small, else by a worker while a page shows its progress)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from analytics import exports, pdf_jobs, selectors
from analytics.views.helpers import pipeline_param, scope_or_default, trade_filters


@login_required
def export_trades_csv(request):
    scope, _ = scope_or_default(request, pipeline_ids=pipeline_param(request))
    return exports.trades_csv_response(scope, trade_filters(request))


@login_required
def export_equity_csv(request):
    scope, _ = scope_or_default(request, pipeline_ids=pipeline_param(request))
    perf = selectors.performance(scope)
    if request.GET.get("per") == "trade":
        return exports.equity_per_trade_csv_response(perf)
    return exports.equity_csv_response(perf)


@login_required
def export_costs_csv(request):
    scope, _ = scope_or_default(request)
    return exports.costs_csv_response(scope)


@login_required
def export_pdf(request):
    """The performance PDF: built here when small; a large one is built by a worker while a
    page shows its progress and then the download link."""
    scope, _ = scope_or_default(request, pipeline_ids=pipeline_param(request))
    perf = selectors.performance(scope)
    if len(perf.book) <= pdf_jobs.PDF_INLINE_LIMIT:
        return exports.pdf_response(perf)
    # The scope as scope_for reads it back in the worker.
    params = {**scope.query(), "pipeline_ids": [str(p) for p in scope.pipeline_ids]}
    job_id = pdf_jobs.pdf_job_start(user=request.user, params=params)
    return redirect("analytics:pdf-job", job_id=job_id)


@login_required
def pdf_job(request, job_id):
    job = pdf_jobs.pdf_job_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such report.")
    context = {"job": job, "job_id": job_id}
    if request.htmx:
        return render(request, "analytics/pdf_job.html#status", context)
    return render(request, "analytics/pdf_job.html", context)


@login_required
def pdf_job_download(request, job_id):
    job = pdf_jobs.pdf_job_get(user=request.user, job_id=job_id)
    if job is None or job.get("status") != "done":
        raise Http404("No such report.")
    response = HttpResponse(job["content"], content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{job["filename"]}"'
    return response
