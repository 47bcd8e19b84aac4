"""Tradecrew settings: one module, read from the environment (.env.example lists every variable)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlparse

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.core import embedded
from config.core.env import (
    env_bool,
    env_choice,
    env_decimal,
    env_int,
    env_list,
    env_required,
    env_str,
    load_dotenv,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")
VAR_DIR = embedded.var_dir()

# CrewAI phones home unless told not to, and must hear it before it is first imported.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_DISABLE_VERSION_CHECK", "true")
# OTEL_SDK_DISABLED would switch off every OpenTelemetry provider in the process, ours too; CrewAI
# is kept quiet by CREWAI_DISABLE_TELEMETRY alone, so it is only defaulted while tracing is off.
if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
# A fresh CrewAI storage directory otherwise asks "view your traces?" and waits 10 s.
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_STORAGE_DIR", str(VAR_DIR / "crewai"))

# --- Core ---------------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    configured = env_str("DJANGO_SECRET_KEY")
    if configured:
        if not DEBUG and len(configured) < 50:
            raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters")
        return configured
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false (there is no production default)"
        )
    # Development only: a random key kept under var/ so sessions survive a restart.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG=false")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "ninja_extra",
    "ninja_jwt",
    "ninja_jwt.token_blacklist",
    "channels",
    "django_celery_beat",
    "axes",
    "django_prometheus",
    "django_htmx",
    "accounts",
    "trading",
    "agents",
    "billing",
    "pipelines",
    "signals",
    "analytics",
]

MIDDLEWARE = [
    "config.core.client_address.ClientAddressMiddleware",
    "config.core.request_guard.APIRequestGuardMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.core.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "config.core.outage.RedisOutageMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "config.context_processors.tradecrew",
            ],
        },
    },
]

# --- Database and Redis -------------------------------------------------------------------------


def _database_pool() -> dict | None:
    """Django's psycopg pool, one per process: a request or task borrows a connection and gives it
    back when it ends, so a process never holds more than DATABASE_POOL_MAX_SIZE connections
    however many threads it runs (daphne runs each request in a thread of its own, and without
    the pool each kept its own connection). A thread finding the pool empty waits up to
    DATABASE_POOL_TIMEOUT seconds. None (DATABASE_POOL=false): a connection per thread, kept
    DATABASE_CONN_MAX_AGE seconds — for PgBouncer, or a pooler of your own."""
    if not env_bool("DATABASE_POOL", True):
        return None
    min_size = env_int("DATABASE_POOL_MIN_SIZE", 2, minimum=0)
    max_size = env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=1)
    if max_size < min_size:
        raise ImproperlyConfigured(
            f"DATABASE_POOL_MAX_SIZE={max_size} is below DATABASE_POOL_MIN_SIZE={min_size}"
        )
    return {
        "min_size": min_size,
        "max_size": max_size,
        "timeout": env_int("DATABASE_POOL_TIMEOUT", 30, minimum=1),
    }


def _database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "postgis"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgresql:// URL, got {parsed.scheme!r}"
        )
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    host = unquote(parsed.hostname or "") or query.pop("host", "")
    options = {key: value for key, value in query.items() if key != "host"}
    # Django turns psycopg's prepared statements off for the sake of connection poolers; the
    # engine and the signal dispatcher prepare the few statements they run all the time
    # (config/core/db.py; the ORM binds client-side and never prepares). Behind PgBouncer in
    # transaction mode that needs PgBouncer ≥ 1.21 with max_prepared_statements set — or
    # DATABASE_PREPARED_STATEMENTS=false.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        options.setdefault("prepare_threshold", 1_000_000)  # only what asks (prepare=True)
    pool = _database_pool()
    conn_max_age = env_int("DATABASE_CONN_MAX_AGE", 0 if pool else 60, minimum=0)
    if pool and conn_max_age:
        raise ImproperlyConfigured(
            "DATABASE_CONN_MAX_AGE keeps connections outside the pool: "
            "leave it unset (or 0) with the pool, or set DATABASE_POOL=false"
        )
    return {
        "ENGINE": "django_prometheus.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "OPTIONS": {**options, "pool": pool} if pool else options,
        "CONN_MAX_AGE": conn_max_age,
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": env_str("DATABASE_TEST_NAME")},
    }


DATABASE_URL = env_str("DATABASE_URL") or embedded.ensure_postgres()
DATABASES = {"default": _database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL") or embedded.ensure_redis()
# Logical databases used: broker, cache, channel layer, signal bus (+0..+3). The test run shifts
# them (REDIS_DB_BASE=8) so tests never flush the data of a system running beside them.
REDIS_DB_BASE = env_int("REDIS_DB_BASE", 0, minimum=0)


def redis_url(db: int) -> str:
    """REDIS_URL pointed at logical database REDIS_DB_BASE + `db` (redis://, rediss://, unix://)."""
    db += REDIS_DB_BASE
    parsed = urlparse(REDIS_URL)
    if parsed.scheme == "unix":
        query = parse_qs(parsed.query)
        query["db"] = [str(db)]
        return f"unix://{parsed.path}?{urlencode(query, doseq=True)}"
    if parsed.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(
            f"REDIS_URL must be redis://, rediss:// or unix://, got {REDIS_URL!r}"
        )
    return parsed._replace(path=f"/{db}").geturl()


def _celery_redis_url(db: int) -> str:
    parsed = urlparse(REDIS_URL)
    if parsed.scheme == "unix":
        # kombu spells a Unix-socket Redis as redis+socket://
        return f"redis+socket://{parsed.path}?virtual_host={db + REDIS_DB_BASE}"
    return redis_url(db)


CACHES = {
    "default": {
        "BACKEND": "django_prometheus.cache.backends.redis.NativeRedisCache",
        "LOCATION": redis_url(1),
        "KEY_PREFIX": "tc",
    }
}

# A position's live state (or a backtest's progress) goes out at most once per this many ms per
# trader, the latest always (config/core/live_throttle.py); 0 sends every tick.
LIVE_STATE_INTERVAL_MS = env_int("LIVE_STATE_INTERVAL_MS", 1000, minimum=0)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [redis_url(2)]},
    }
}

# --- Celery -------------------------------------------------------------------------------------

CELERY_BROKER_URL = _celery_redis_url(0)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged after it finishes; a worker that dies mid-task has its message redelivered
# (task_reject_on_worker_lost), and every task guards on database state so a redelivery is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Queues per concern, so each can get its own workers when the system grows.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "pipelines.execution_run": {"queue": "executions"},
    "pipelines.*": {"queue": "default"},
    "trading.*": {"queue": "monitoring"},
    "signals.*": {"queue": "signals"},
}
CELERY_WORKER_SEND_TASK_EVENTS = False

# --- Auth ---------------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Failed-login lockout (django-axes): the account (by e-mail) is locked after AXES_FAILURE_LIMIT
# failures from anywhere, and so is a client address that fails that often across accounts.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
# One lock per (account, address) pair: a wrong password locks that account from that address
# only, so someone mistyping elsewhere never refuses the owner's correct password, and one
# account's failures never lock other accounts on a shared address. Guessing across many
# accounts or addresses is slowed by the per-address auth throttle (API_AUTH_THROTTLE_RATE).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_VERBOSE = False

NINJA_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": True,
}

API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/min")
API_AUTH_THROTTLE_RATE = env_str("API_AUTH_THROTTLE_RATE", "30/min")
PIPELINE_CREATE_THROTTLE_RATE = env_str("PIPELINE_CREATE_THROTTLE_RATE", "10/min")

# --- Security -----------------------------------------------------------------------------------

# Proxies (addresses or networks) whose X-Forwarded-For is believed; none by default, so a client
# cannot choose the address the lockout and the throttles see (config/core/client_address.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an address or network"
        ) from None
# django-ninja's own address logic would read the raw header: it gets REMOTE_ADDR, resolved above.
NINJA_NUM_PROXIES = 0

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # Style attributes come from swapped fragments and chart libraries; scripts stay strict.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    # Checkout and the Customer Portal are reached by a form post answered with a redirect to
    # Stripe, which form-action governs too.
    "form-action": [CSP.SELF, "https://checkout.stripe.com", "https://billing.stripe.com"],
    "frame-ancestors": [CSP.NONE],
}

METRICS_BEARER_TOKEN = env_str("METRICS_BEARER_TOKEN")
# Traces go to this OTLP/HTTP endpoint when set (config/core/tracing.py); the exporter reads
# it itself.
OTEL_EXPORTER_OTLP_ENDPOINT = env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "")


def _field_encryption_keys() -> list[str]:
    keys = env_list("FIELD_ENCRYPTION_KEYS")
    if keys:
        return keys
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DJANGO_DEBUG=false: it encrypts broker keys"
        )
    # Development only: a Fernet key kept under var/ so stored broker keys survive a restart.
    from cryptography.fernet import Fernet

    key_file = VAR_DIR / "dev-field-encryption-key"
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    return [key_file.read_text().strip()]


# Fernet keys for secrets stored in the database (broker API keys). The first encrypts, all
# decrypt: put a new key first, run `manage.py rotate_encryption_keys`, then drop the old one.
FIELD_ENCRYPTION_KEYS = _field_encryption_keys()

# --- Static files -------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "servestatic.storage.CompressedManifestStaticFilesStorage"
    },
}
SERVESTATIC_USE_FINDERS = DEBUG
SERVESTATIC_AUTOREFRESH = DEBUG

# --- Internationalisation -----------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- E-mail (notifications are e-mailed only when EMAIL_HOST is set) ----------------------------

EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_ENABLED = EMAIL_HOST is not None
if EMAIL_ENABLED:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    # Without a mail server, e-mails (password resets) are printed to the web process's log.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Tradecrew <noreply@tradecrew.local>")
# Notification channels (Telegram, Discord, Slack, webhooks) are delivered by Celery with retries.
NOTIFY_MAX_RETRIES = env_int("NOTIFY_MAX_RETRIES", 5, minimum=0)
NOTIFY_RETRY_BACKOFF_SECONDS = float(env_decimal("NOTIFY_RETRY_BACKOFF_SECONDS", Decimal("10")))
# Other addresses for the services' APIs (a self-hosted Telegram Bot API server, a proxy); empty =
# the services' own.
NOTIFY_TELEGRAM_API_URL = env_str("NOTIFY_TELEGRAM_API_URL", "https://api.telegram.org")
NOTIFY_DISCORD_API_URL = env_str("NOTIFY_DISCORD_API_URL", "https://discord.com")
NOTIFY_SLACK_API_URL = env_str("NOTIFY_SLACK_API_URL", "https://hooks.slack.com")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Logging ------------------------------------------------------------------------------------

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ["text", "json"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.core.logging.RequestIdFilter"},
        "trace_id": {"()": "config.core.tracing.TraceIdFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(trace_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "trace_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "INFO"},
        "celery": {"level": "INFO"},
        "axes": {"level": "WARNING"},
    },
}

# --- Tradecrew ----------------------------------------------------------------------------------

DEMO_PASSWORD = env_str("DEMO_PASSWORD")
DEMO_EMAIL = "demo@tradecrew.local"
ENFORCE_SUBSCRIPTION_LIMITS = env_bool("ENFORCE_SUBSCRIPTION_LIMITS", False)
DEFAULT_SUBSCRIPTION_TIER = env_choice(
    "DEFAULT_SUBSCRIPTION_TIER", "ENTERPRISE", ["FREE", "BASIC", "PRO", "ENTERPRISE"]
)
DEFAULT_DAILY_BUDGET = env_decimal("DEFAULT_DAILY_BUDGET", Decimal("10.00"))
DEFAULT_MONTHLY_BUDGET = env_decimal("DEFAULT_MONTHLY_BUDGET", Decimal("200.00"))
HEALTH_CELERY_TIMEOUT = float(env_str("HEALTH_CELERY_TIMEOUT", "1.0"))
# Subscription plans (spec §19.2): monthly price and active-pipeline limit (None = unlimited).
SUBSCRIPTION_PLANS = {
    "FREE": {"price": "0", "max_active_pipelines": 2},
    "BASIC": {"price": "29", "max_active_pipelines": 5},
    "PRO": {"price": "99", "max_active_pipelines": 20},
    "ENTERPRISE": {"price": "299", "max_active_pipelines": None},
}
# Stripe (billing): the SDK is pointed at STRIPE_API_BASE (empty = Stripe itself).
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
STRIPE_PRICE_BASIC = env_str("STRIPE_PRICE_BASIC")
STRIPE_PRICE_PRO = env_str("STRIPE_PRICE_PRO")
STRIPE_PRICE_ENTERPRISE = env_str("STRIPE_PRICE_ENTERPRISE")
STRIPE_USAGE_METER_EVENT = env_str("STRIPE_USAGE_METER_EVENT", "tradecrew_usage_cents")
# The metered price ($0.01 per unit of that meter) added to every subscription at Checkout.
STRIPE_PRICE_USAGE = env_str("STRIPE_PRICE_USAGE")
BILLING_GRACE_DAYS = env_int("BILLING_GRACE_DAYS", 7, minimum=0)
if STRIPE_API_BASE:  # a self-hosted or test Stripe serves its hosted pages too
    SECURE_CSP["form-action"].append(STRIPE_API_BASE.rstrip("/"))
# --- Market data ---------------------------------------------------------------------------------

MARKET_DATA_PROVIDER = env_choice(
    "MARKET_DATA_PROVIDER", "synthetic", ["synthetic", "csv", "alpaca", "finnhub"]
)
MARKET_DATA_SEED = env_int("MARKET_DATA_SEED", 42)
MARKET_DATA_CSV_DIR = env_str("MARKET_DATA_CSV_DIR", "")
ALPACA_DATA_API_KEY = env_str("ALPACA_DATA_API_KEY", "")
ALPACA_DATA_SECRET_KEY = env_str("ALPACA_DATA_SECRET_KEY", "")
ALPACA_DATA_URL = env_str("ALPACA_DATA_URL", "")
ALPACA_DATA_FEED = env_str("ALPACA_DATA_FEED", "iex")
FINNHUB_API_KEY = env_str("FINNHUB_API_KEY", "")
FINNHUB_BASE_URL = env_str("FINNHUB_BASE_URL", "")
# Trading API base URLs (None = Alpaca's own); set for a self-hosted proxy or the test fake.
ALPACA_PAPER_URL = env_str("ALPACA_PAPER_URL")
ALPACA_LIVE_URL = env_str("ALPACA_LIVE_URL")

# Progressive unlock (§12.4): closed simulated trades before PAPER, closed paper trades (with a
# positive cumulative P&L) before LIVE.
MODE_UNLOCK_SIMULATED_TRADES = env_int("MODE_UNLOCK_SIMULATED_TRADES", 10, minimum=0)
MODE_UNLOCK_PAPER_TRADES = env_int("MODE_UNLOCK_PAPER_TRADES", 25, minimum=0)

# A monitor sweep larger than this many positions is split by user into chunks of about this size,
# one Celery task each, so it scales with the workers (issue 16). One worker sweeps 10,000
# simulated positions in about a second; the split is for more positions than that, and for
# broker round trips (paper/live), which are I/O bound.
POSITION_MONITOR_CHUNK = env_int("POSITION_MONITOR_CHUNK", 2_500, minimum=1)

# --- Language models -------------------------------------------------------------------------
# Any OpenAI-compatible server (OpenAI, Ollama, vLLM, LM Studio, llama.cpp); the LLM engine is on
# when either the key or the base URL is set.


def _env_json(name: str, default):
    import json

    raw = env_str(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {error}") from None


OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
LLM_DEFAULT_MODEL = env_str("LLM_DEFAULT_MODEL", "gpt-4o-mini")
LLM_BIAS_MODEL = env_str("LLM_BIAS_MODEL", "")
LLM_STRATEGY_MODEL = env_str("LLM_STRATEGY_MODEL", "")
LLM_REPORTING_MODEL = env_str("LLM_REPORTING_MODEL", "")
LLM_NEWS_MODEL = env_str("LLM_NEWS_MODEL", "")
LLM_MODELS = env_list("LLM_MODELS")
LLM_PRICING = _env_json("LLM_PRICING", {})
LLM_FREE_MODELS = env_list("LLM_FREE_MODELS")
LLM_REQUEST_TIMEOUT = float(env_str("LLM_REQUEST_TIMEOUT", "60"))
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2, minimum=0)
LLM_RETRY_BACKOFF_SECONDS = float(env_str("LLM_RETRY_BACKOFF_SECONDS", "1.0"))
LLM_MAX_COMPLETION_TOKENS = env_int("LLM_MAX_COMPLETION_TOKENS", 1024, minimum=16)
LLM_TEMPERATURE = float(env_str("LLM_TEMPERATURE", "0.2"))
LLM_RESPONSE_FORMAT = env_choice(
    "LLM_RESPONSE_FORMAT", "json_object", ["json_object", "json_schema", "none"]
)

# --- Signals ----------------------------------------------------------------------------------

SIGNAL_STREAM = env_str("SIGNAL_STREAM", "trading-signals")
SIGNAL_CONSUMER_GROUP = env_str("SIGNAL_CONSUMER_GROUP", "dispatchers")
SIGNAL_STREAM_MAXLEN = env_int("SIGNAL_STREAM_MAXLEN", 100_000, minimum=100)
SIGNAL_DEDUP_TTL_SECONDS = env_int("SIGNAL_DEDUP_TTL_SECONDS", 24 * 3600, minimum=1)
SIGNAL_RECLAIM_IDLE_SECONDS = env_int("SIGNAL_RECLAIM_IDLE_SECONDS", 30, minimum=1)
SIGNAL_RECLAIM_INTERVAL_SECONDS = env_int("SIGNAL_RECLAIM_INTERVAL_SECONDS", 15, minimum=1)
SIGNAL_MAX_DELIVERIES = env_int("SIGNAL_MAX_DELIVERIES", 5, minimum=1)
SIGNAL_INDEX_REFRESH_SECONDS = env_int("SIGNAL_INDEX_REFRESH_SECONDS", 300, minimum=5)
SIGNAL_DISPATCHER_METRICS_PORT = env_int("SIGNAL_DISPATCHER_METRICS_PORT", 8004, minimum=0)
SIGNAL_GENERATORS_METRICS_PORT = env_int("SIGNAL_GENERATORS_METRICS_PORT", 8003, minimum=0)
SIGNAL_METRICS_ADDR = env_str("SIGNAL_METRICS_ADDR", "127.0.0.1")
# The Celery worker's /metrics port (0 = off); it binds SIGNAL_METRICS_ADDR too.
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 8002, minimum=0)
SIGNAL_GENERATORS = env_list(
    "SIGNAL_GENERATORS",
    [
        "mock",
        "golden_cross",
        "rsi",
        "volume_spike",
        "macd",
        "bollinger",
        "breakout",
        "news_sentiment",
    ],
)
SIGNAL_GENERATOR_INTERVALS = env_list("SIGNAL_GENERATOR_INTERVALS")
SIGNAL_MOCK_ENABLED = env_bool("SIGNAL_MOCK_ENABLED", False)
SIGNAL_DEFAULT_WATCHLIST = env_list(
    "SIGNAL_DEFAULT_WATCHLIST", ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM"]
)
SIGNAL_MAX_SCAN_TICKERS = env_int("SIGNAL_MAX_SCAN_TICKERS", 2000, minimum=1)
SIGNAL_NEWS_SENTIMENT_SCORER = env_str("SIGNAL_NEWS_SENTIMENT_SCORER", "")
SIGNAL_LOG_RETENTION_DAYS = env_int("SIGNAL_LOG_RETENTION_DAYS", 30, minimum=1)
SIGNAL_WEBHOOK_THROTTLE_RATE = env_str("SIGNAL_WEBHOOK_THROTTLE_RATE", "60/min")

# Custom strategies (agents/custom): the sandbox's limits per call and its pre-started processes.
CUSTOM_STRATEGY_CPU_SECONDS = env_int("CUSTOM_STRATEGY_CPU_SECONDS", 5, minimum=1)
CUSTOM_STRATEGY_MEMORY_MB = env_int("CUSTOM_STRATEGY_MEMORY_MB", 100, minimum=32)
CUSTOM_STRATEGY_WALL_SECONDS = env_int("CUSTOM_STRATEGY_WALL_SECONDS", 5, minimum=1)
CUSTOM_STRATEGY_SANDBOX_POOL_SIZE = env_int("CUSTOM_STRATEGY_SANDBOX_POOL_SIZE", 2, minimum=1)
# Failed runs with an anomaly (timeout, memory, crash, invalid output) in a row that suspend one.
CUSTOM_STRATEGY_ANOMALY_LIMIT = env_int("CUSTOM_STRATEGY_ANOMALY_LIMIT", 3, minimum=1)

# Extra modules that register agents (plugins); imported with the built-in agents.
AGENT_PLUGINS = env_list("AGENT_PLUGINS")

# Production refuses to start without the settings it needs; the message names each one.
if not DEBUG:
    env_required("DJANGO_ALLOWED_HOSTS", "the host names this deployment answers to")
