"""API rate limits that hold under concurrency: a sliding window in one Lua script on Redis.

django-ninja's throttles keep a list of timestamps in the cache and write it back
(read-modify-write), so concurrent requests each read the same history and all get through.
Here the whole check — drop what left the window, count, admit and record — runs as one Lua
script, which Redis executes atomically: N concurrent clients against a limit of L admit exactly
L per window, on any number of web processes. The window slides (a sorted set of admitted
request times, scored with the Redis server's clock, so web servers' clocks do not matter).

A Redis that cannot be reached raises `redis.RedisError`; the API answers that with 503 and a
Retry-After (config/api.py), like /health, rather than a 500 or an unthrottled pass.
"""

from __future__ import annotations

import threading
import uuid
from functools import cache

import redis
from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import AnonRateThrottle, AuthRateThrottle, SimpleRateThrottle

# KEYS[1] the window; ARGV: window ms, limit, a unique member. Returns {admitted, wait ms}.
SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, window - (now - tonumber(oldest[2]))}
"""

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
    return client.register_script(SLIDING_WINDOW)


def window_admit(*, key: str, limit: int, window_seconds: int) -> tuple[bool, float]:
    """Admit one request in `key`'s window if fewer than `limit` were admitted in the last
    `window_seconds`; returns (admitted, seconds until a slot frees when refused)."""
    client = throttle_redis()
    admitted, wait_ms = _script(client)(
        keys=[KEY_PREFIX + key], args=[window_seconds * 1000, limit, uuid.uuid4().hex]
    )
    return bool(admitted), max(int(wait_ms), 0) / 1000


class AtomicThrottle(SimpleRateThrottle):
    """Replaces ninja's read-modify-write history with `window_admit`. One throttle object
    serves every request of its operation on every thread, so the wait is kept per thread."""

    def __init__(self, rate: str | None = None, *, scope: str | None = None):
        if scope:
            self.scope = scope
        super().__init__(rate)
        self._local = threading.local()

    def get_ident(self, request: HttpRequest) -> str | None:
        # REMOTE_ADDR has been resolved through TRUSTED_PROXIES (config/client_address.py).
        return request.META.get("REMOTE_ADDR")

    def allow_request(self, request: HttpRequest) -> bool:
        key = self.get_cache_key(request)
        if key is None or self.num_requests is None:
            return True
        admitted, wait = window_admit(
            key=key, limit=self.num_requests, window_seconds=self.duration
        )
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


def api_throttles() -> list[SimpleRateThrottle]:
    """The API-wide limits (API_THROTTLE_RATE); an operation with limits of its own lists these
    too, since ninja uses an operation's throttles instead of the API's."""
    return [
        AnonThrottle(settings.API_THROTTLE_RATE),
        AuthThrottle(settings.API_THROTTLE_RATE),
    ]
