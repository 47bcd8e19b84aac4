"""The deployment files: deploy/compose.yaml has every process with health checks, one beat, two
web replicas behind the proxy, and sets only documented variables; the Dockerfile is multi-stage,
built with uv from the lock file, and runs as a non-root user."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bin.env_table import variables

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "deploy" / "compose.yaml"
APP_SERVICES = {"migrate", "web", "worker", "beat", "dispatcher", "generators"}
ONE_SHOT = {"migrate"}


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _documented() -> set[str]:
    return {name for _, name, _, _ in variables()}


def test_it_runs_every_process_of_the_procfile_and_the_services_they_need():
    services = _compose()["services"]
    assert set(services) == APP_SERVICES | {"postgres", "redis", "proxy", "prometheus", "grafana"}
    assert services["grafana"]["profiles"] == services["prometheus"]["profiles"] == ["monitoring"]
    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert set(procfile) <= set(services)
    for name in APP_SERVICES:
        assert services[name]["image"] == "tradecrew:latest"
        assert services[name]["build"]["dockerfile"] == "Dockerfile"


def test_every_long_running_service_has_a_health_check():
    services = _compose()["services"]
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
        assert check.get("interval") and check.get("retries"), name


def test_it_scales_web_and_dispatchers_and_runs_a_single_beat():
    services = _compose()["services"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["dispatcher"]["deploy"]["replicas"] == 2
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "${WORKER_REPLICAS" in str(services["worker"]["deploy"]["replicas"])
    # Only the proxy publishes ports (and Grafana, on loopback); the web replicas sit behind it.
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy", "grafana"}
    assert all(port.startswith("127.0.0.1:") for port in services["grafana"]["ports"])
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "dynamic a web 8000" in caddyfile
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]


def test_migrations_run_once_before_the_processes_start():
    services = _compose()["services"]
    assert "migrate --noinput" in " ".join(services["migrate"]["command"])
    for name in APP_SERVICES - ONE_SHOT:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_it_mounts_the_monitoring_folder_it_ships():
    services = _compose()["services"]
    mounts = services["prometheus"]["volumes"] + services["grafana"]["volumes"]
    for mount in mounts:
        source = mount.split(":", 1)[0]
        if source.startswith(".."):
            assert (COMPOSE.parent / source).resolve().exists(), source


def test_it_sets_only_documented_settings():
    services = _compose()["services"]
    documented = _documented()
    for name in APP_SERVICES:
        unknown = set(services[name]["environment"]) - documented
        assert not unknown, f"{name} sets undocumented variables: {sorted(unknown)}"
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert not interpolated - documented, sorted(interpolated - documented)
    # Production must not start with a secret the file made up.
    environment = services["web"]["environment"]
    assert ":?" in environment["DJANGO_SECRET_KEY"]
    assert ":?" in environment["FIELD_ENCRYPTION_KEYS"]
    assert environment["DJANGO_DEBUG"] == "false"


def test_the_image_is_multi_stage_built_with_uv_and_runs_as_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM .+ AS (\w+)$", dockerfile, re.MULTILINE)
    assert stages == ["build", "runtime"]
    assert "uv sync --frozen --no-dev" in dockerfile
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert re.search(r"^USER tradecrew$", runtime, re.MULTILINE)
    assert "COPY --from=build" in runtime
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git", ".env"} <= set(ignored)
