"""Project-level views: the Prometheus metrics endpoint."""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django_prometheus.exports import ExportToDjangoView

from pipelines.metrics import system_health_collector_register


def metrics(request):
    """Prometheus text format, guarded by METRICS_BEARER_TOKEN. Without a token it is served only
    under DEBUG: in production the metrics (request paths, users' activity) stay closed until
    a token is configured. The platform-wide gauges are registered at the first scrape: they are
    the web process's to serve (other processes import this module too, but never answer it)."""
    expected = settings.METRICS_BEARER_TOKEN
    if not expected and not settings.DEBUG:
        return HttpResponse(
            "Set METRICS_BEARER_TOKEN to enable /metrics.\n", status=403, content_type="text/plain"
        )
    if expected:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    system_health_collector_register()
    return ExportToDjangoView(request)
