"""A threaded loopback HTTP server for API fakes: routes, JSON replies, scripted faults, a log."""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    """One request as the fake saw it."""

    method: str
    path: str  # normalised: repeated slashes collapsed, no query string
    query: dict[str, str]  # last value of each parameter
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""
    status: int = 0  # what the fake answered

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)


@dataclass
class Response:
    """What a route answers. `body` is sent as JSON unless it is bytes or str."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class _Fault:
    remaining: int
    response: Response | None  # None = only delay, then route normally
    delay: float
    path: re.Pattern[str] | None

    def applies_to(self, path: str) -> bool:
        return self.remaining > 0 and (self.path is None or self.path.search(path) is not None)


Handler = Callable[..., Any]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class FakeHTTPServer:
    """Start on 127.0.0.1 with a free port; subclasses or tests register routes.

    >>> server = FakeHTTPServer().start()
    >>> @server.route("GET", r"/v1/things/(?P<pk>\\d+)")
    ... def thing(request, pk):
    ...     return {"id": int(pk)}
    >>> server.fail_next(2, status=429, headers={"Retry-After": "0"})

    A handler gets the RecordedRequest plus the pattern's named groups and returns a Response,
    a (status, body) tuple, or a body to send as 200 JSON. Unknown routes answer 404. A handler
    that raises answers 500 and its traceback lands in `errors`, so tests can assert none did.
    """

    def __init__(self):
        self.routes: list[_Route] = []
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests handled at once: shows client concurrency
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeHTTPServer:
        fake = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs

            def do_GET(self):
                fake._handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, format, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns quickly
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- configuration ---------------------------------------------------------------------

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add_route(method, pattern, handler)
            return handler

        return register

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append(_Route(method.upper(), re.compile(pattern), handler))

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `count` requests (matching the `path` regex, if given) with an error.

        Examples: `fail_next(status=429, headers={"Retry-After": "1"})`, `fail_next(2,
        status=503)`, `fail_next(status=403, body={"message": "forbidden"})`.
        """
        response = Response(
            status=status,
            body=body if body is not None else {"message": f"scripted {status}"},
            headers=dict(headers or {}),
        )
        with self._lock:
            self._faults.append(_Fault(count, response, delay, _compile(path)))

    def delay_next(self, count: int = 1, *, seconds: float, path: str | None = None) -> None:
        """Hold the next `count` matching requests for `seconds`, then answer them normally."""
        with self._lock:
            self._faults.append(_Fault(count, None, seconds, _compile(path)))

    def reset(self) -> None:
        """Forget the request log, errors and pending faults (routes stay)."""
        with self._lock:
            self.requests.clear()
            self.errors.clear()
            self._faults.clear()
            self.max_in_flight = 0

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [
                r
                for r in self.requests
                if pattern.search(r.path) and (method is None or r.method == method.upper())
            ]

    # -- serving ---------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = re.sub(r"/{2,}", "/", parts.path)  # finnhub-python sends ".../api/v1//quote"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=handler.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = next((f for f in self._faults if f.applies_to(path)), None)
            if fault is not None:
                fault.remaining -= 1
        try:
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.response is not None:
                response = fault.response
            else:
                response = self._dispatch(request)
        finally:
            with self._lock:
                self.in_flight -= 1
        request.status = response.status
        payload = response.encode()
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _dispatch(self, request: RecordedRequest) -> Response:
        allowed = False
        for route in self.routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            allowed = True
            if route.method != request.method:
                continue
            try:
                return _as_response(route.handler(request, **match.groupdict()))
            except Exception:
                error = traceback.format_exc()
                with self._lock:
                    self.errors.append(error)
                return Response(500, {"message": "fake handler crashed", "detail": error})
        if allowed:
            return Response(405, {"message": f"{request.method} not allowed"})
        return Response(404, {"message": f"no route for {request.method} {request.path}"})


def _compile(path: str | None) -> re.Pattern[str] | None:
    return re.compile(path) if path else None


def _as_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
        return Response(status=result[0], body=result[1])
    return Response(body=result)
