"""Custom strategy benchmark: the overhead of a custom strategy step over a built-in one.

Both steps run on the same state (AAPL with 5m market data from the synthetic provider, a bias):
the built-in Strategy agent (rules), and the Custom strategy agent running an approved EMA-cross
strategy — its indicators computed in the worker, the code evaluated in a pre-started sandbox
process (fork, rlimits, RestrictedPython), the output validated and the run audited in
PostgreSQL. Also times one batch call of 500 bars (a backtest chunk).

Target: custom step p50 − built-in step p50 ≤ 20 ms with the pre-forked pool.
Run with `make bench` (or `uv run python bench/bench_custom_strategy.py [runs]`).
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

from common import bench_user, percentile, setup_django, summary

TARGET_OVERHEAD_MS = 20.0
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
CODE = """\
PARAMS = {"min_volume": 1000}
INDICATORS = ["EMA_9", "EMA_21", "ATR_14"]


def strategy(bars, indicators, position, params):
    fast = indicators["ema_9"]
    slow = indicators["ema_21"]
    close = bars["5m"]["close"]
    atr = indicators["atr_14"][-1]
    if fast[-2] is None or slow[-2] is None or atr is None:
        return {"signal": "HOLD", "reason": "warming up"}
    if fast[-1] > slow[-1]:
        return {"signal": "BUY", "stop_loss": close[-1] - 1.5 * atr, "reason": "fast above slow"}
    return {"signal": "SELL", "stop_loss": close[-1] + 1.5 * atr, "reason": "fast below slow"}
"""


def _strategy(user):
    from agents.models import CustomStrategy, CustomStrategyStatus

    CustomStrategy.objects.filter(owner=user).delete()
    from agents.custom.services import code_hash
    from agents.custom.static_review import static_review

    review = static_review(CODE)
    assert review.passed, review.issues
    return CustomStrategy.objects.create(
        owner=user,
        name="bench EMA",
        description="bench",
        code=CODE,
        code_hash=code_hash(CODE),
        status=CustomStrategyStatus.ACTIVE,
        params=review.params,
        indicators=review.indicators,
        timeframes=review.timeframes,
    )


def _context(user):
    from agents.context import AgentContext, PipelineInfo
    from trading.clock import ManualClock
    from trading.executors.validation import ValidationExecutor
    from trading.marketdata.news import SyntheticNews
    from trading.marketdata.synthetic import SyntheticProvider

    return AgentContext(
        clock=ManualClock(NOW),
        market_data=SyntheticProvider(seed=7),
        news=SyntheticNews(),
        executor=ValidationExecutor(),
        pipeline=PipelineInfo(
            pipeline_id=str(uuid.uuid4()),
            name="bench",
            owner_id=str(user.pk),
            trading_mode="VALIDATION",
            required_timeframes=frozenset({"5m", "1h", "4h", "1d"}),
            execution_id=str(uuid.uuid4()),
        ),
    )


def main(runs: int) -> None:
    setup_django()
    from agents.custom.inputs import history_inputs, synthetic_frame
    from agents.custom.sandbox import sandbox_evaluate_many, sandbox_pool
    from agents.registry import create_agent
    from agents.state import PipelineState

    user = bench_user()
    strategy = _strategy(user)
    ctx = _context(user)
    state = PipelineState(
        pipeline_id=ctx.pipeline.pipeline_id,
        execution_id=ctx.pipeline.execution_id,
        user_id=str(user.pk),
        trading_mode="VALIDATION",
        symbols=["AAPL"],
    )
    state = create_agent("data", "market_data_agent", {}).process(state, ctx)
    state = create_agent("bias", "bias_agent", {"confidence_threshold": 0}).process(state, ctx)
    builtin = create_agent("strategy", "strategy_agent", {"risk_reward_min": 1.0})
    custom = create_agent("custom", "custom_strategy", {"strategy": str(strategy.lineage)})
    facts = sandbox_pool().warm_up()
    print(
        f"sandbox pool: {sandbox_pool().size} processes, network namespace "
        f"{facts['network_namespace']}, root dropped {facts['dropped_root']}"
    )

    def timed(agent) -> list[float]:
        times = []
        for _ in range(runs):
            copy = state.model_copy(deep=True)
            started = time.perf_counter()
            agent.process(copy, ctx)
            times.append((time.perf_counter() - started) * 1000)
        return times

    timed(builtin)[:5]  # warm caches on both paths
    timed(custom)[:5]
    builtin_ms = timed(builtin)
    custom_ms = timed(custom)
    overhead = statistics.median(custom_ms) - statistics.median(builtin_ms)
    print(f"built-in strategy step ({runs} runs): {summary(builtin_ms)}")
    print(f"custom strategy step   ({runs} runs): {summary(custom_ms)}")
    verdict = "OK" if overhead <= TARGET_OVERHEAD_MS else "ABOVE TARGET"
    print(
        f"overhead of a custom step: p50 {overhead:.2f} ms, p95 "
        f"{percentile(custom_ms, 95) - percentile(builtin_ms, 95):.2f} ms "
        f"(target p50 ≤ {TARGET_OVERHEAD_MS:.0f} ms: {verdict})"
    )

    frame = synthetic_frame(timeframe="5m", drift=0.0005, seed=1, bars=560)
    calls = history_inputs(
        frame=frame, timeframe="5m", indicators=strategy.indicators, params=strategy.params
    )
    started = time.perf_counter()
    result = sandbox_evaluate_many(CODE, calls)
    batch_ms = (time.perf_counter() - started) * 1000
    assert result.ok, result.error
    print(
        f"backtest chunk: {len(calls)} bars in one sandbox call, {batch_ms:.1f} ms "
        f"({batch_ms / len(calls):.3f} ms a bar, sandbox peak memory "
        f"{result.peak_memory_bytes / 1e6:.1f} MB)"
    )
    strategy.runs.all().delete()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
