"""Every setting the signals app reads, checked and typed; no other signals module reads settings.

The defaults live in config/settings.py alone (issue 15: one place per setting)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.core.conf import setting


def _int(name: str, *, minimum: int = 0) -> int:
    value = setting(name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def _list(name: str) -> list[str]:
    value = setting(name)
    if isinstance(value, str):
        value = value.split(",")
    return [str(item).strip() for item in value or [] if str(item).strip()]


def debug() -> bool:
    return bool(setting("DEBUG"))


def redis_url() -> str:
    return str(setting("REDIS_URL"))


def redis_db_base() -> int:
    return _int("REDIS_DB_BASE")


def enforce_subscription_limits() -> bool:
    return bool(setting("ENFORCE_SUBSCRIPTION_LIMITS"))


def default_subscription_tier() -> str:
    return str(setting("DEFAULT_SUBSCRIPTION_TIER")).upper()


def stream_name() -> str:
    return str(setting("SIGNAL_STREAM"))


def consumer_group() -> str:
    return str(setting("SIGNAL_CONSUMER_GROUP"))


def stream_maxlen() -> int:
    return _int("SIGNAL_STREAM_MAXLEN", minimum=1000)


def dedup_ttl_seconds() -> int:
    return _int("SIGNAL_DEDUP_TTL_SECONDS", minimum=60)


def reclaim_idle_seconds() -> int:
    return _int("SIGNAL_RECLAIM_IDLE_SECONDS", minimum=1)


def reclaim_interval_seconds() -> int:
    return _int("SIGNAL_RECLAIM_INTERVAL_SECONDS", minimum=1)


def max_deliveries() -> int:
    return _int("SIGNAL_MAX_DELIVERIES", minimum=1)


def dead_letter_stream() -> str:
    return f"{stream_name()}:dead"


def index_refresh_seconds() -> int:
    return _int("SIGNAL_INDEX_REFRESH_SECONDS", minimum=5)


def dispatcher_metrics_port() -> int:
    return _int("SIGNAL_DISPATCHER_METRICS_PORT")


def generators_metrics_port() -> int:
    return _int("SIGNAL_GENERATORS_METRICS_PORT")


def metrics_addr() -> str:
    return str(setting("SIGNAL_METRICS_ADDR"))


def enabled_generators() -> list[str]:
    return [name.lower() for name in _list("SIGNAL_GENERATORS")]


def generator_intervals() -> dict[str, float]:
    """Per-generator intervals in seconds: a dict, or "name=seconds" items ("rsi=120,…")."""
    value = setting("SIGNAL_GENERATOR_INTERVALS") or {}
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, dict):
        pairs = [str(item).partition("=") for item in value if str(item).strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ImproperlyConfigured(
                "SIGNAL_GENERATOR_INTERVALS takes name=seconds items, e.g. 'rsi=120,mock=10'"
            )
        value = {name.strip(): seconds.strip() for name, _, seconds in pairs}
    intervals = {}
    for name, seconds in value.items():
        try:
            intervals[str(name).lower()] = max(1.0, float(seconds))
        except (TypeError, ValueError):
            raise ImproperlyConfigured(
                f"SIGNAL_GENERATOR_INTERVALS: {name}={seconds!r} is not a number of seconds"
            ) from None
    return intervals


def mock_enabled() -> bool:
    """The mock generator makes up signals, so it runs only in a demo (DEBUG) or when asked."""
    return debug() or bool(setting("SIGNAL_MOCK_ENABLED"))


def default_watchlist() -> list[str]:
    return [symbol.upper() for symbol in _list("SIGNAL_DEFAULT_WATCHLIST")]


def max_scan_tickers() -> int:
    return _int("SIGNAL_MAX_SCAN_TICKERS", minimum=1)


def news_sentiment_scorer() -> str:
    return str(setting("SIGNAL_NEWS_SENTIMENT_SCORER") or "").strip()


def log_retention_days() -> int:
    return _int("SIGNAL_LOG_RETENTION_DAYS", minimum=1)


def webhook_throttle_rate() -> str:
    return str(setting("SIGNAL_WEBHOOK_THROTTLE_RATE"))
