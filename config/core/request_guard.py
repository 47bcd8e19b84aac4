"""API requests no operation can serve are answered here, as JSON, before any view runs:

- a body over DATA_UPLOAD_MAX_MEMORY_SIZE → 413 (Django's own answer is a 400 HTML page, or a
  500 under DEBUG);
- a NUL character in the path, the query string or a JSON body → 422 (PostgreSQL text cannot
  hold one; it used to reach the database and answer 500).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
NUL_MESSAGE = "must not contain NUL characters"


def _refused(location: str, message: str) -> JsonResponse:
    return _refused_at([location], message)


def _refused_at(location: list, message: str) -> JsonResponse:
    return JsonResponse(
        {"detail": [{"loc": location, "msg": message, "type": "value_error"}]}, status=422
    )


def nul_location(data: Any) -> list[str | int] | None:
    """The path to the first key or string holding a NUL character in parsed JSON, walked
    without recursion (a body may be nested thousands of levels deep)."""
    stack: list[tuple[list[str | int], Any]] = [([], data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return [*path, key]
                stack.append(([*path, key], item))
        elif isinstance(value, list):
            stack.extend(([*path, index], item) for index, item in enumerate(value))
    return None


def _refused_in_body(body: bytes) -> JsonResponse:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    where = nul_location(data) if data is not None else None
    return _refused_at(["body", *where] if where else ["body"], f"Text values {NUL_MESSAGE}.")


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
                return _refused_in_body(body)
        return self.get_response(request)
