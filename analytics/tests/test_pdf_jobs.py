"""A large performance PDF is built by a real Celery worker, with progress on its page and a
download link only its owner can use."""

from __future__ import annotations

import io
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from analytics import pdf_jobs
from analytics.tests import factories as f
from config.celery import app as celery_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


@pytest.fixture
def worker():
    celery_app.control.purge()
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=1,
        perform_ping_check=False,
        queues=["default"],
        loglevel="WARNING",
    ):
        yield


def test_a_large_report_is_built_by_a_worker(owner, outsider, worker, monkeypatch):
    monkeypatch.setattr(pdf_jobs, "PDF_INLINE_LIMIT", 2)  # three trades make a "large" report
    for net in ("120", "-40", "60"):
        f.closed_trade(owner, net=net)
    client = Client()
    client.force_login(owner)
    response = client.get(reverse("analytics:export-pdf"))
    assert response.status_code == 302
    job_url = response["Location"]
    first = client.get(job_url).content.decode()
    assert 'data-testid="pdf-job"' in first
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = client.get(job_url, headers={"HX-Request": "true"}).content.decode()
        if 'data-status="done"' in page:
            break
        time.sleep(0.2)
    assert 'data-status="done"' in page
    download = client.get(job_url + "download/")
    assert download["Content-Type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(download.content)).pages)
    assert "+$140.00" in text
    other = Client()
    other.force_login(outsider)
    assert other.get(job_url).status_code == 404
    assert other.get(job_url + "download/").status_code == 404
