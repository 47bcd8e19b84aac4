"""The Redis connection of the signal bus: logical database REDIS_DB_BASE + 3 of REDIS_URL."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlencode, urlparse

import redis
from django.core.exceptions import ImproperlyConfigured

from signals import conf

# The project's logical databases are broker, cache, channel layer, signal bus (+0..+3).
SIGNAL_BUS_DB = 3

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def bus_db() -> int:
    return conf.redis_db_base() + SIGNAL_BUS_DB


def bus_redis_url() -> str:
    """REDIS_URL pointed at the bus database (the same rules as config.settings.redis_url)."""
    url = conf.redis_url()
    db = bus_db()
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        query = parse_qs(parsed.query)
        query["db"] = [str(db)]
        return f"unix://{parsed.path}?{urlencode(query, doseq=True)}"
    if parsed.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"REDIS_URL must be redis://, rediss:// or unix://, got {url!r}")
    return parsed._replace(path=f"/{db}").geturl()


def bus_redis() -> redis.Redis:
    """A shared client (thread-safe: it checks a connection out of its pool per command)."""
    url = bus_redis_url()
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(url, health_check_interval=30)
                _clients[url] = client
    return client
