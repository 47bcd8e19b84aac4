"""API rate limits that hold under concurrency: a sliding window in one Lua script on Redis.

django-ninja's throttles keep a list of timestamps in the cache and write it back
(read-modify-write), so concurrent requests each read the same history and all get through.
Here the whole check — drop what left the window, count, admit and record — runs as one Lua
script, which Redis executes atomically: N concurrent clients against a limit of L admit exactly
L per window, on any number of web processes. The window slides (a sorted set of admitted
request times, scored with the Redis server's clock, so web servers' clocks do not matter).
Every limit that applies to a request (the API's, an operation's stricter one) is checked in the
same script call: one Redis round trip per request. (Its keys must live on one Redis node.)

A Redis that cannot be reached raises `redis.RedisError`; the API answers that with 503 and a
Retry-After (config/api.py), like /health, rather than a 500 or an unthrottled pass.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

import redis
from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import AnonRateThrottle, AuthRateThrottle, BaseThrottle, SimpleRateThrottle

# KEYS: one sorted set per window; ARGV[1] a unique member, then each window's length in ms and
# limit. Admits (and records in every window) only when every window has room; returns
# {admitted, ms until the fullest window frees a slot}.
SLIDING_WINDOWS = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local refused, wait = false, 0
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i])
  local limit = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    refused = true
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local frees = window
    if oldest[2] then frees = window - (now - tonumber(oldest[2])) end
    wait = math.max(wait, frees)
  end
end
if refused then
  return {0, wait}
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i]))
end
return {1, 0}
"""


class Window(NamedTuple):
    key: str
    limit: int
    seconds: int


KEY_PREFIX = "tc:throttle:"


@cache
def _client(url: str) -> redis.Redis:
    # Short timeouts: a request waits on its rate limit, so a dead Redis must fail fast.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def throttle_redis() -> redis.Redis:
    """The cache's Redis database (cleared with the cache, e.g. between tests)."""
    return _client(settings.CACHES["default"]["LOCATION"])


@cache
def _script(client: redis.Redis):
    return client.register_script(SLIDING_WINDOWS)


def windows_admit(*, windows: Sequence[Window]) -> tuple[bool, float]:
    """Admit one request if every window has admitted fewer than its limit in its last
    `seconds`, recording it in all of them — one Redis call however many windows; returns
    (admitted, seconds until the fullest window frees a slot when refused)."""
    if not windows:
        return True, 0.0
    arguments: list[int | str] = [uuid.uuid4().hex]
    for window in windows:
        arguments += [window.seconds * 1000, window.limit]
    admitted, wait_ms = _script(throttle_redis())(
        keys=[KEY_PREFIX + window.key for window in windows], args=arguments
    )
    return bool(admitted), max(int(wait_ms), 0) / 1000


def window_admit(*, key: str, limit: int, window_seconds: int) -> tuple[bool, float]:
    """Admit one request in `key`'s window if fewer than `limit` were admitted in the last
    `window_seconds`; returns (admitted, seconds until a slot frees when refused)."""
    return windows_admit(windows=[Window(key, limit, window_seconds)])


class AtomicThrottle(SimpleRateThrottle):
    """Replaces ninja's read-modify-write history with `window_admit`. One throttle object
    serves every request of its operation on every thread, so the wait is kept per thread."""

    def __init__(self, rate: str | None = None, *, scope: str | None = None):
        if scope:
            self.scope = scope
        super().__init__(rate)
        self._local = threading.local()

    def get_ident(self, request: HttpRequest) -> str | None:
        # REMOTE_ADDR has been resolved through TRUSTED_PROXIES (config/core/client_address.py).
        return request.META.get("REMOTE_ADDR")

    def window(self, request: HttpRequest) -> Window | None:
        """This limit's window for `request` (None: the limit does not apply to it)."""
        key = self.get_cache_key(request)
        if key is None or self.num_requests is None:
            return None
        return Window(key, self.num_requests, self.duration)

    def allow_request(self, request: HttpRequest) -> bool:
        window = self.window(request)
        admitted, wait = windows_admit(windows=[window] if window else [])
        self._local.wait = wait
        return admitted

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


class AnonThrottle(AtomicThrottle, AnonRateThrottle):
    """Unauthenticated requests, per client address."""


class AuthThrottle(AtomicThrottle, AuthRateThrottle):
    """Authenticated requests per credential (a user's session, token or JWT); anonymous ones
    per address."""


class UserThrottle(AtomicThrottle):
    """Per user, in a scope of its own: a stricter limit on one costly operation (§15.3)."""

    def get_cache_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        ident = getattr(user, "pk", None)
        if ident is None:
            ident = self.get_ident(request)
        return f"{self.scope}:{ident}"


class RateLimits(BaseThrottle):
    """Several limits checked in one Redis call (one round trip per request however many apply),
    all or nothing: a request refused by one limit is not counted against the others."""

    def __init__(self, *throttles: AtomicThrottle):
        self.throttles = throttles
        self._local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        windows = [throttle.window(request) for throttle in self.throttles]
        admitted, wait = windows_admit(windows=[window for window in windows if window])
        self._local.wait = wait
        return admitted

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


def api_throttles(*stricter: AtomicThrottle) -> list[BaseThrottle]:
    """The API-wide limits (API_THROTTLE_RATE), with an operation's `stricter` own limits if it
    has any (ninja uses an operation's throttles instead of the API's, so it lists these too)."""
    return [
        RateLimits(
            AnonThrottle(settings.API_THROTTLE_RATE),
            AuthThrottle(settings.API_THROTTLE_RATE),
            *stricter,
        )
    ]
