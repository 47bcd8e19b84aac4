"""LLM benchmark: calls, tokens and wall time of the day-trading template on the LLM engine.

Its bias, strategy and reporting agents run their crews through the real engine, against a
loopback OpenAI-compatible server that answers every chat completion after a fixed latency.

Prints, per single-symbol run: model calls, prompt and completion tokens, token cost and wall
time — live, and again when the replay cache answers the same input. Targets: at most 12 calls
and 100k tokens per single-symbol analysis.

Run with `make bench` (or `uv run python bench/bench_llm.py [runs] [latency_ms]`).
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from common import bench_user, peak_rss_mb, setup_django, summary

TARGET_CALLS = 12
TARGET_TOKENS = 100_000
MODEL = "gpt-4o-mini"
LLM_NODES = {"node-3", "node-4", "node-7"}
# Tuesday 2026-11-24, 10:00 New York; each run is five minutes (one 5m bar) later.
START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _pipeline(user, *, replay_cache: bool):
    from pipelines import services
    from pipelines.blueprints import DAY_TRADING

    graph = copy.deepcopy(DAY_TRADING.graph)
    for node in graph["nodes"]:
        if node["id"] in LLM_NODES:
            node["config"]["engine"] = "llm"
    # VALIDATION records the orders it would send: runs do not pile up simulated positions
    # that would change what the risk manager decides (the model calls are the same).
    pipeline, _ = services.pipeline_create(
        owner=user,
        name="bench LLM day trading",
        graph=graph,
        symbols=["AAPL"],
        primary_timeframe=DAY_TRADING.primary_timeframe,
        trading_mode="VALIDATION",
        settings={"replay_cache": replay_cache},
    )
    return pipeline


def _clean(user) -> None:
    from agents.models import LLMReplay
    from billing.models import CostEntry, DailyCost
    from pipelines.models import Pipeline

    for model in (Pipeline, CostEntry, DailyCost, LLMReplay):
        model.objects.filter(owner=user).delete()


def _run(pipeline, fake, at: datetime) -> dict:
    from django.db.models import Sum

    from pipelines import engine, services
    from trading.clock import ManualClock

    calls_before = len(fake.completions)
    started = time.perf_counter()
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    status = engine.execution_run(
        execution_id=execution.pk, task_id=str(execution.pk), clock=ManualClock(at)
    )
    elapsed = time.perf_counter() - started
    usage = execution.steps.filter(node_id__in=LLM_NODES).aggregate(
        tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("token_cost")
    )
    per_step = {
        step.node_id: (step.agent_type, step.tokens_in, step.tokens_out)
        for step in execution.steps.filter(node_id__in=LLM_NODES).order_by("position")
    }
    return {
        "status": status,
        "calls": len(fake.completions) - calls_before,
        "tokens_in": usage["tokens_in"] or 0,
        "tokens_out": usage["tokens_out"] or 0,
        "cost": usage["cost"] or 0,
        "seconds": elapsed,
        "per_step": per_step,
        "roles": [c.role for c in fake.completions[calls_before:]],
    }


def main(runs: int, latency_ms: float) -> int:
    from django.conf import settings

    from tests.fakes.openai import FakeOpenAI, TradingDesk

    user = bench_user("bench-llm@tradecrew.local")
    _clean(user)
    # Live runs ask the model every time: with the scripted analysts' answers the same from run
    # to run, the replay cache would otherwise answer the synthesizer's identical question.
    asking = _pipeline(user, replay_cache=False)
    with FakeOpenAI(responder=TradingDesk(), latency=latency_ms / 1000) as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_API_KEY = fake.api_key
        settings.LLM_DEFAULT_MODEL = MODEL
        first = _run(asking, fake, START)  # includes importing CrewAI (once per process)
        live = [_run(asking, fake, START + timedelta(minutes=5 * n)) for n in range(1, runs + 1)]
        # The same inputs again, on a pipeline with the replay cache: once live, then replayed.
        replaying = _pipeline(user, replay_cache=True)
        moments = [START + timedelta(minutes=5 * n) for n in range(1, 4)]
        for moment in moments:
            _run(replaying, fake, moment)
        replayed = [_run(replaying, fake, moment) for moment in moments]
    _clean(user)

    failed = [r["status"] for r in [first, *live, *replayed] if r["status"] != "completed"]
    calls = max(r["calls"] for r in live)
    tokens = max(r["tokens_in"] + r["tokens_out"] for r in live)
    wall_ms = [r["seconds"] * 1000 for r in live]
    waiting_ms = statistics.median(r["calls"] for r in live) * latency_ms
    print(
        f"LLM pipeline, day-trading template on 1 symbol (bias, strategy, reporting on the "
        f"llm engine), {runs} live runs, {latency_ms:g} ms per model call"
    )
    total = runs + 1 + len(replayed)
    print(f"  completed:              {total - len(failed)}/{total} {failed or ''}")
    print(f"  calls per run:          {calls} (target ≤ {TARGET_CALLS}) — {first['roles']}")
    for agent_type, tokens_in, tokens_out in live[-1]["per_step"].values():
        print(f"    {agent_type:<22} {tokens_in:>6} prompt + {tokens_out:>4} completion tokens")
    print(
        f"  tokens per run:         {tokens:,} (target ≤ {TARGET_TOKENS:,}); "
        f"cost at {MODEL} prices ${live[-1]['cost']:.6f}"
    )
    print(f"  wall time per run:      {summary(wall_ms)}")
    print(
        f"    of which model latency {waiting_ms:.0f} ms, our overhead (prompts, CrewAI, "
        f"validation, engine) p50 {statistics.median(wall_ms) - waiting_ms:.0f} ms"
    )
    print(f"  first run in a process: {first['seconds'] * 1000:.0f} ms (imports CrewAI)")
    replay_ms = [r["seconds"] * 1000 for r in replayed]
    print(
        f"  replayed run:           {max(r['calls'] for r in replayed)} calls, "
        f"{max(r['tokens_in'] + r['tokens_out'] for r in replayed)} tokens, "
        f"{summary(replay_ms)}"
    )
    print(f"  peak memory (RSS):      {peak_rss_mb():.0f} MB")
    ok = not failed and calls <= TARGET_CALLS and tokens <= TARGET_TOKENS
    print(f"  targets:                {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    setup_django()
    sys.exit(
        main(
            runs=int(sys.argv[1]) if len(sys.argv) > 1 else 10,
            latency_ms=float(sys.argv[2]) if len(sys.argv) > 2 else 50.0,
        )
    )
