"""Celery tasks for analytics: a large performance report's PDF, built away from the request."""

from __future__ import annotations

from celery import shared_task

from analytics import pdf_jobs


# A lost job is cheap to ask for again: no retries; acks_late (the default here) redelivers it
# if the worker dies, and building the same PDF twice is harmless.
@shared_task(name="analytics.pdf_report", ignore_result=True)
def pdf_report_task(job_id: str) -> None:
    pdf_jobs.pdf_job_run(job_id=job_id)
