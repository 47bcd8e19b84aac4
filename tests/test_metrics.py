"""Platform metrics (§20.3) after real runs, and the Grafana dashboard's queries against them."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from agents.errors import BudgetExceeded
from agents.llm.answers import BiasAnswer
from agents.llm.client import LLMClient
from agents.llm.config import llm_settings
from agents.metering import CostMeter
from pipelines.models import ExecutionStatus
from pipelines.tests.test_paper_trading import KEY, SECRET, paper_pipeline, run
from tests.fakes.alpaca import FakeAlpaca
from tests.fakes.openai import FakeOpenAI, Scripted
from trading.tasks import positions_monitor_task

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "monitoring" / "grafana" / "dashboards" / "trading-platform-overview.json"
MODEL = "gpt-4o-mini"

# Every §20.3 metric (and the additions) as exposed: counters carry `_total`.
PLATFORM_METRICS = {
    "system_active_pipelines",
    "system_active_users",
    "system_executions_today",
    "system_success_rate_24h_percent",
    "pipeline_executions_total",
    "pipeline_execution_duration_seconds_count",
    "agent_step_duration_seconds_count",
    "llm_tokens_total",
    "llm_cost_dollars_total",
    "trading_orders_total",
    "broker_errors_total",
    "broker_retries_total",
    "position_monitor_sweep_duration_seconds_count",
    "budget_refusals_total",
}
# Names Prometheus itself makes (not in any /metrics output).
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "increase",
    "histogram_quantile",
    "max",
    "min",
    "avg",
    "le",
    "without",
    "on",
    "offset",
}


@pytest.fixture
def alpaca(settings):
    with FakeAlpaca(api_key=KEY, secret_key=SECRET) as server:
        settings.ALPACA_PAPER_URL = server.url
        yield server


@pytest.fixture
def openai_server(settings):
    with FakeOpenAI() as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_API_KEY = fake.api_key
        settings.LLM_DEFAULT_MODEL = MODEL
        settings.LLM_PRICING = {MODEL: {"input": "0.15", "output": "0.6"}}
        yield fake


SCRAPE_TOKEN = "prometheus-scrape-token"


@pytest.fixture(autouse=True)
def _scrape_token(settings):
    # /metrics is closed without a token when DEBUG is off (as in tests): scrape as Prometheus
    # does in production.
    settings.METRICS_BEARER_TOKEN = SCRAPE_TOKEN


def _scrape() -> dict[str, list]:
    """The web process's /metrics, as {sample name: [samples]} plus every family's sample names
    (a labelled counter nobody touched yet still declares its family)."""
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert response.status_code == 200
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
        for name in _sample_names(family):
            samples.setdefault(name, [])
    return samples


def _sample_names(family) -> set[str]:
    if family.type == "counter":
        return {family.name + "_total", family.name + "_created"}
    if family.type == "histogram":
        return {family.name + suffix for suffix in ("_bucket", "_count", "_sum", "_created")}
    return {family.name}


def _value(samples, name: str, **labels) -> float:
    return sum(
        s.value for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())
    )


def _a_paper_run_with_a_rate_limit(owner, alpaca):
    alpaca.fail_next(
        1, status=429, headers={"Retry-After": "0"}, path=r"^/v2/orders$", method="POST"
    )
    execution = run(paper_pipeline(owner, symbols=("TSLA", "JPM")))
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    return execution


def _a_model_call(owner):
    client = LLMClient(
        config=llm_settings(),
        meter=CostMeter(),
        agent_id="bias",
        owner_id=str(owner.pk),
        replay=False,
        sleep=lambda seconds: None,
    )
    client.ask(
        [{"role": "user", "content": "Decide the bias of AAPL. Answer with one JSON object."}],
        answer_model=BiasAnswer,
        model=MODEL,
        what="Bias crew for AAPL",
    )


@pytest.mark.django_db
def test_it_serves_every_platform_metric_with_live_values_after_a_run(owner, alpaca, openai_server):
    before = _scrape()
    openai_server.answer(
        Scripted(
            json.dumps(
                {
                    "bias": "bullish",
                    "confidence": 72,
                    "bias_score": 0.7,
                    "reasoning": "The daily trend is up.",
                    "factors": ["1d trend"],
                }
            ),
            prompt_tokens=1000,
            completion_tokens=50,
        )
    )

    _a_paper_run_with_a_rate_limit(owner, alpaca)
    _a_model_call(owner)
    positions_monitor_task()
    with pytest.raises(BudgetExceeded):
        CostMeter(max_tokens_per_run=10).ensure_within_budget(
            projected_tokens=11, projected_cost=Decimal(0)
        )

    after = _scrape()
    missing = {name for name in PLATFORM_METRICS if not after.get(name)}
    assert not missing, f"no samples for {sorted(missing)}"

    def rise(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    # The database gauges describe the run that just happened.
    assert _value(after, "system_active_pipelines") == 0  # created as a draft
    assert _value(after, "system_executions_today") == 1
    assert _value(after, "system_success_rate_24h_percent") == 100
    # The process-local counters moved by what the run did.
    assert rise("pipeline_executions_total", status="completed", mode="PAPER") == 1
    assert rise("pipeline_execution_duration_seconds_count", mode="PAPER") == 1
    assert rise("agent_step_duration_seconds_count", agent_type="trade_manager_agent") == 1
    assert rise("trading_orders_total", broker="alpaca", status="filled") >= 1
    assert rise("broker_errors_total", broker="alpaca", kind="transient") == 1
    assert rise("broker_retries_total", broker="alpaca") == 1
    assert rise("llm_tokens_total", model=MODEL, direction="in") == 1000
    assert rise("llm_tokens_total", model=MODEL, direction="out") == 50
    assert math.isclose(rise("llm_cost_dollars_total", model=MODEL), 0.18)
    assert rise("position_monitor_sweep_duration_seconds_count") == 1
    assert rise("budget_refusals_total") == 1


@pytest.mark.django_db
def test_it_reports_no_success_rate_when_nothing_finished():
    samples = _scrape()
    assert math.isnan(_value(samples, "system_success_rate_24h_percent"))
    assert _value(samples, "system_executions_today") == 0


def _dashboard_metric_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "Trading Platform Overview"
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    assert len(expressions) >= 20
    names = set()
    for expression in expressions:
        # Strip label matchers, label lists after by/without, range selectors and strings.
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expression)
        bare = re.sub(r"\b(by|without)\s*\([^)]*\)", " ", bare)
        names |= set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - PROMQL_WORDS
    return names


@pytest.mark.django_db
def test_it_queries_only_metrics_the_processes_serve(owner, alpaca):
    # The worker's, dispatcher's and generators' metrics live in this process's registry too
    # (each process serves the same default registry on its own port).
    import signals.metrics  # noqa: F401 - registers the signal system's metrics

    _a_paper_run_with_a_rate_limit(owner, alpaca)
    served = set(_scrape())
    queried = _dashboard_metric_names()
    assert {"pipeline_executions_total", "system_active_pipelines"} <= queried
    unknown = queried - served - PROMETHEUS_OWN
    assert not unknown, f"the dashboard queries metrics nobody serves: {sorted(unknown)}"


def test_it_provisions_the_dashboard_from_its_folder():
    import yaml

    provider = yaml.safe_load(
        (ROOT / "monitoring/grafana/provisioning/dashboards/tradecrew.yaml").read_text()
    )["providers"][0]
    assert provider["type"] == "file"
    scrape = yaml.safe_load((ROOT / "monitoring/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    assert jobs == {
        "tradecrew-web",
        "tradecrew-worker",
        "tradecrew-dispatcher",
        "tradecrew-generators",
    }


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_serves_its_own_metrics_after_a_run(owner):
    import os
    import socket
    import subprocess
    import sys
    import time
    from urllib.request import urlopen

    from django.conf import settings

    from config.celery import app as celery_app
    from pipelines import services
    from pipelines.models import PipelineExecution
    from pipelines.tests.test_paper_trading import GRAPH

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = settings.DATABASES["default"]
    celery_app.control.purge()
    worker = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "threads"),
            *("-c", "2", "-Q", "executions", "--without-mingle", "--without-gossip"),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": f"postgresql://{database['USER']}@/{database['NAME']}"
            f"?host={database['HOST']}",
            "WORKER_METRICS_PORT": str(port),
            "SIGNAL_METRICS_ADDR": "127.0.0.1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pipeline, _ = services.pipeline_create(
            owner=owner, name="metered", graph=GRAPH, symbols=["TSLA"]
        )
        execution = services.execution_start(pipeline=pipeline)
        deadline = time.monotonic() + 120
        while PipelineExecution.objects.get(pk=execution.pk).status in ("pending", "running"):
            assert time.monotonic() < deadline, "the worker did not run the execution"
            time.sleep(0.2)
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            families = {
                family.name: family
                for family in text_string_to_metric_families(response.read().decode())
            }
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    status = PipelineExecution.objects.get(pk=execution.pk).status
    runs = families["pipeline_executions"].samples
    assert any(
        s.name == "pipeline_executions_total"
        and s.labels == {"status": status, "mode": "SIMULATION"}
        and s.value == 1
        for s in runs
    )
    steps = families["agent_step_duration_seconds"].samples
    assert any(
        s.name.endswith("_count") and s.labels.get("agent_type") == "price_trigger" for s in steps
    )
    # The database gauges are the web process's, not the worker's.
    assert "system_active_pipelines" not in families
