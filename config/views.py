"""Project-level views: the Prometheus metrics endpoint."""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django_prometheus.exports import ExportToDjangoView


def metrics(request):
    """Prometheus text format; guarded by METRICS_BEARER_TOKEN when one is configured."""
    expected = settings.METRICS_BEARER_TOKEN
    if expected:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    return ExportToDjangoView(request)
