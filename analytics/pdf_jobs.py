"""Performance-report PDFs for large scopes: built by a Celery task, with its progress and the
finished file kept in the cache (an hour) under a job id only its owner can read."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.cache import cache
from django.db import transaction

from analytics import exports, selectors

JOB_TTL_SECONDS = 3600
# Up to this many closed trades the PDF is built in the request (about a second); beyond, the
# report page shows progress while a worker builds it.
PDF_INLINE_LIMIT = 2000


def _key(job_id: str) -> str:
    return f"analytics:pdf:{job_id}"


def _save(job_id: str, job: dict[str, Any]) -> None:
    cache.set(_key(job_id), job, JOB_TTL_SECONDS)


def pdf_job_start(*, user, params: dict[str, Any]) -> str:
    """Queue the PDF of the scope `params` names (after commit); returns the job id."""
    from analytics.tasks import pdf_report_task

    job_id = uuid.uuid4().hex
    _save(job_id, {"owner_id": user.pk, "params": params, "status": "queued", "progress": 0})
    transaction.on_commit(lambda: pdf_report_task.delay(job_id))
    return job_id


def pdf_job_get(*, user, job_id: str) -> dict[str, Any] | None:
    """The job, if it exists and is this user's (another user's job is None → 404)."""
    job = cache.get(_key(job_id))
    if not job or job.get("owner_id") != user.pk:
        return None
    return job


def pdf_job_run(*, job_id: str) -> None:
    from accounts.models import User

    job = cache.get(_key(job_id))
    if not job or job["status"] != "queued":
        return
    user = User.objects.get(pk=job["owner_id"])

    def progress(share: int, stage: str) -> None:
        _save(job_id, {**job, "status": "running", "progress": share, "stage": stage})

    try:
        progress(5, "Gathering trades")
        scope = selectors.scope_for(user=user, **job["params"])
        perf = selectors.performance(scope)
        content = exports.pdf_bytes(perf, progress=progress)
    except Exception as error:
        _save(job_id, {**job, "status": "failed", "progress": 100, "error": str(error)})
        raise
    _save(
        job_id,
        {
            **job,
            "status": "done",
            "progress": 100,
            "stage": "Ready",
            "filename": f"performance-{exports.stamp(scope)}.pdf",
            "content": content,
        },
    )
