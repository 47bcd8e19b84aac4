# Tradecrew: `make run` starts the whole system on embedded PostgreSQL and Redis; `make test` checks it.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export PATH := $(HOME)/.local/bin:$(PATH)
export PORT ?= 8000
export CREWAI_DISABLE_TELEMETRY := true
export CREWAI_DISABLE_VERSION_CHECK := true

.PHONY: run test lint format setup uv services-up services-down migrate bench clean-var

uv:
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --user --quiet uv

setup: uv
	$(UV) sync --frozen

services-up: setup
	$(UV) run --no-sync python -m config.core.embedded up

services-down:
	$(UV) run --no-sync python -m config.core.embedded down

migrate: services-up
	$(UV) run --no-sync python manage.py migrate --noinput

# The whole system: embedded PostgreSQL + Redis, migrations, the demo account, then every process
# in the Procfile with prefixed logs (bin/supervise.py restarts one that exits, with backoff);
# Ctrl-C or SIGTERM stops them all.
run: export DJANGO_DEBUG ?= true
run: migrate
	$(UV) run --no-sync python manage.py seed_demo
	$(UV) run --no-sync python manage.py sync_beat_schedule
	exec $(UV) run --no-sync python bin/supervise.py -f Procfile

lint: setup
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

format: setup
	$(UV) run --no-sync ruff check --fix .
	$(UV) run --no-sync ruff format .

test: export DJANGO_DEBUG ?= true
test: lint services-up
	$(UV) run --no-sync pytest -q

# Benchmarks run with DEBUG off, the production code path (bench/common.py makes throwaway
# secrets); the migrations before them run like `make run`'s.
bench: export DJANGO_DEBUG ?= true
bench: migrate
	DJANGO_DEBUG=false $(UV) run --no-sync python bench/run_all.py
