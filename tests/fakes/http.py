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
    method: str | None = None  # only requests with this method (None = any)
    # Route the request first (its side effects happen), then delay and/or answer `response`:
    # the server did the work but the client never saw the answer.
    after_dispatch: bool = False

    def applies_to(self, path: str, method: str | None = None) -> bool:
        return (
            self.remaining > 0
            and (self.path is None or self.path.search(path) is not None)
            and (self.method is None or method is None or self.method == method.upper())
        )


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
            # Headers and body leave in two writes; with Nagle's algorithm and the client's
            # delayed ACK every response with a body would wait ~40 ms for the second one.
            disable_nagle_algorithm = True

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
        method: str | None = None,
    ) -> None:
        """Answer the next `count` requests (matching the `path` regex and `method`, if given)
        with an error.

        Examples: `fail_next(status=429, headers={"Retry-After": "1"})`, `fail_next(2,
        status=503)`, `fail_next(status=403, body={"message": "forbidden"})`.
        """
        response = _scripted(status, body, headers)
        with self._lock:
            self._faults.append(_Fault(count, response, delay, _compile(path), _upper(method)))

    def delay_next(
        self,
        count: int = 1,
        *,
        seconds: float,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Hold the next `count` matching requests for `seconds`, then answer them normally."""
        with self._lock:
            self._faults.append(_Fault(count, None, seconds, _compile(path), _upper(method)))

    def fail_after_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Handle the next `count` matching requests normally — their side effects happen —
        then answer an error instead of the real reply: a response lost on its way back.

        Example: `fail_after_next(status=500, path=r"^/v2/orders$", method="POST")` accepts the
        order and tells the client it failed.
        """
        response = _scripted(status, body, headers)
        with self._lock:
            self._faults.append(
                _Fault(count, response, delay, _compile(path), _upper(method), after_dispatch=True)
            )

    def hold_response_next(
        self,
        count: int = 1,
        *,
        seconds: float,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Handle the next `count` matching requests normally, then hold the reply for
        `seconds`: a client with a shorter timeout gives up although the work was done."""
        with self._lock:
            self._faults.append(
                _Fault(count, None, seconds, _compile(path), _upper(method), after_dispatch=True)
            )

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
            fault = next((f for f in self._faults if f.applies_to(path, handler.command)), None)
            if fault is not None:
                fault.remaining -= 1
        after = fault is not None and fault.after_dispatch
        try:
            if fault is not None and fault.delay and not after:
                time.sleep(fault.delay)
            if fault is not None and fault.response is not None and not after:
                response = fault.response
            else:
                response = self._dispatch(request)
            if after:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.response is not None:
                    response = fault.response
        finally:
            with self._lock:
                self.in_flight -= 1
        request.status = response.status
        payload = response.encode()
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client timed out and hung up (a held response); nothing left to tell it.
            handler.close_connection = True

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


def _upper(method: str | None) -> str | None:
    return method.upper() if method else None


def _scripted(status: int, body: Any, headers: dict[str, str] | None) -> Response:
    return Response(
        status=status,
        body=body if body is not None else {"message": f"scripted {status}"},
        headers=dict(headers or {}),
    )


def _as_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
        return Response(status=result[0], body=result[1])
    return Response(body=result)
