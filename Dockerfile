# Tradecrew image: one image for every process (web, worker, beat, dispatcher, generators); the
# compose file (deploy/compose.yaml) picks the command. Multi-stage: uv builds the virtualenv
# from uv.lock in the first stage; the runtime stage copies it and runs as a non-root user.

FROM python:3.12-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (cached while only our code changes), then the project itself.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
# Static files are part of the image: hashed names, compressed, served by servestatic.
# collectstatic only needs settings to load: throwaway values, no database is contacted.
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY=collectstatic-only-collectstatic-only-collectstatic-only-0000 \
    DJANGO_ALLOWED_HOSTS=build \
    FIELD_ENCRYPTION_KEYS=ZmFrZS1rZXktZm9yLWNvbGxlY3RzdGF0aWMtb25seS0wMDA= \
    DATABASE_URL=postgresql://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    /app/.venv/bin/python manage.py collectstatic --noinput \
    && rm -rf /app/var/crewai /app/var/dev-field-encryption-key

FROM python:3.12-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 tradecrew \
    && useradd --system --uid 10001 --gid tradecrew --home-dir /app --shell /usr/sbin/nologin tradecrew
WORKDIR /app
COPY --from=build --chown=tradecrew:tradecrew /app /app
# CrewAI must not phone home; our own OpenTelemetry stays available (see README, Tracing).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DJANGO_DEBUG=false \
    CREWAI_DISABLE_TELEMETRY=true \
    CREWAI_DISABLE_VERSION_CHECK=true \
    CREWAI_TRACING_ENABLED=false
USER tradecrew
EXPOSE 8000 8002 8003 8004
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "config.asgi:application"]
