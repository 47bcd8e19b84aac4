"""Request ids for structured logs: a middleware that assigns one and a filter that stamps it."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_VALID_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _request_id_for(request) -> str:
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _VALID_INCOMING_ID.match(incoming) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Give every request an id (reusing a sane X-Request-ID), log with it, and echo it back."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        token = request_id_var.set(_request_id_for(request))
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id_var.get()
            return response
        finally:
            request_id_var.reset(token)

    async def __acall__(self, request):
        token = request_id_var.set(_request_id_for(request))
        try:
            response = await self.get_response(request)
            response["X-Request-ID"] = request_id_var.get()
            return response
        finally:
            request_id_var.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
