"""A Redis outage answers 503 with a Retry-After, like /health, instead of a 500; so does a
database pool with no free connection within DATABASE_POOL_TIMEOUT.

The API's rate limits run before the view (outside the API's exception handlers), so a Redis that
cannot be reached surfaces here as an exception of the request as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 5
MESSAGE = "A service this request needs is unavailable; try again shortly."


def outage_response(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.warning(
        "%s %s: %s unavailable (%s): answering 503",
        request.method,
        request.path,
        "the database" if pool_exhausted(error) else "Redis",
        error,
    )
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def pool_exhausted(error: BaseException) -> bool:
    """Django's wrapping of psycopg_pool's PoolTimeout: every pooled connection stayed busy."""
    from psycopg_pool import PoolTimeout

    return isinstance(error, OperationalError) and isinstance(error.__cause__, PoolTimeout)


class RedisOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, redis.RedisError) or pool_exhausted(exception):
            return outage_response(request, exception)
        return None
