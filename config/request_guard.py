"""API requests no operation can serve are answered here, as JSON, before any view runs:

- a body over DATA_UPLOAD_MAX_MEMORY_SIZE → 413 (Django's own answer is a 400 HTML page, or a
  500 under DEBUG);
- a NUL character in the path, the query string or a JSON body → 422 (PostgreSQL text cannot
  hold one; it used to reach the database and answer 500).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
NUL_MESSAGE = "must not contain NUL characters"


def _refused(location: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"detail": [{"loc": [location], "msg": message, "type": "value_error"}]}, status=422
    )


class APIRequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if "\x00" in request.path:
            return _refused("path", f"The URL {NUL_MESSAGE}.")
        if "%00" in request.META.get("QUERY_STRING", "") or "\x00" in unquote(
            request.META.get("QUERY_STRING", "")
        ):
            return _refused("query", f"Query parameters {NUL_MESSAGE}.")
        # File uploads (multipart) stream to disk under their own limits: left alone.
        if request.method in {"POST", "PUT", "PATCH", "DELETE"} and not (
            request.content_type or ""
        ).startswith("multipart/"):
            try:
                body = request.body
            except RequestDataTooBig:
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                return JsonResponse(
                    {"detail": f"The request body is larger than {limit} bytes."}, status=413
                )
            if b"\x00" in body or b"\\u0000" in body:
                return _refused("body", f"Text values {NUL_MESSAGE}.")
        return self.get_response(request)
