"""Process-local Prometheus metrics of runs, steps, models, orders, brokers and the monitor (§20.3).

Each process (web, worker, dispatcher, generators) counts what happens inside it and serves its
own /metrics; Prometheus sums across processes. The hot paths call one function here per event,
so the engine, the executors and the LLM meter stay one line away from their metrics. Gauges that
describe the whole platform (active pipelines, users, …) are read from the database by the web
process instead (`pipelines.metrics`), so several processes never disagree about them.
"""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import Counter, Histogram

pipeline_executions = Counter(
    "pipeline_executions",
    "Pipeline executions that ended (or paused waiting for a trigger), by status and trading mode",
    ["status", "mode"],
)
pipeline_execution_duration = Histogram(
    "pipeline_execution_duration_seconds",
    "Wall-clock time of one execution attempt in a worker, from claim to its end",
    ["mode"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
agent_step_duration = Histogram(
    "agent_step_duration_seconds",
    "Time one agent took to process the state, by agent type",
    ["agent_type"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60),
)
llm_tokens = Counter(
    "llm_tokens", "Tokens sent to and received from language models", ["model", "direction"]
)
llm_cost = Counter("llm_cost_dollars", "What language-model calls cost, in dollars", ["model"])
llm_calls = Counter("llm_calls", "Language-model calls, cached answers included", ["model"])
orders = Counter(
    "trading_orders",
    "Orders sent to an executor, by broker and resulting status",
    ["broker", "status"],
)
broker_errors = Counter(
    "broker_errors", "Failed broker HTTP calls: transient (retried) or refused", ["broker", "kind"]
)
broker_retries = Counter(
    "broker_retries", "Broker calls retried after a transient error", ["broker"]
)
monitor_sweep_duration = Histogram(
    "position_monitor_sweep_duration_seconds",
    "Time of one position-monitor sweep over every monitored position",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
budget_refusals = Counter(
    "budget_refusals", "Runs or model calls refused because a budget or cap would be exceeded"
)


def execution_ended(*, status: str, mode: str, seconds: float) -> None:
    pipeline_executions.labels(status=status, mode=mode).inc()
    pipeline_execution_duration.labels(mode=mode).observe(seconds)


def step_finished(*, agent_type: str, seconds: float) -> None:
    agent_step_duration.labels(agent_type=agent_type).observe(seconds)


def llm_call_recorded(*, model: str, prompt_tokens: int, completion_tokens: int, cost: Decimal):
    llm_calls.labels(model=model).inc()
    llm_tokens.labels(model=model, direction="in").inc(prompt_tokens)
    llm_tokens.labels(model=model, direction="out").inc(completion_tokens)
    llm_cost.labels(model=model).inc(float(cost))


def order_sent(*, executor: object, status: str) -> None:
    orders.labels(broker=broker_name(executor), status=status).inc()


def broker_name(executor: object) -> str:
    """ "alpaca", "simulation", "validation": the executor's class name without "Executor"."""
    return type(executor).__name__.removesuffix("Executor").lower() or "unknown"


def broker_error(*, broker: str, kind: str) -> None:
    broker_errors.labels(broker=broker, kind=kind).inc()


def broker_retry(*, broker: str) -> None:
    broker_retries.labels(broker=broker).inc()


def budget_refused() -> None:
    budget_refusals.inc()
