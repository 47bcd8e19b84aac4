"""Project-level views: the Prometheus metrics endpoint."""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django_prometheus.exports import ExportToDjangoView

from pipelines.metrics import system_health_collector_register


def metrics(request):
    """Prometheus text format; guarded by METRICS_BEARER_TOKEN when one is configured. The
    platform-wide gauges are registered here, at the first scrape: they are the web process's
    to serve (other processes import this module too, but never answer this view)."""
    expected = settings.METRICS_BEARER_TOKEN
    if expected:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    system_health_collector_register()
    return ExportToDjangoView(request)
