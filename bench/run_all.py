"""Run every benchmark in bench/ and print their figures (`make bench`)."""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_engine.py",
    "bench_checkpoint.py",
    "bench_persistence.py",
    "bench_statements.py",
    "bench_estimates.py",
    "bench_llm.py",
    "bench_signals.py",
    "bench_analytics.py",
    "bench_pages.py",
    "bench_backtest.py",
    "bench_backtest_bias.py",
    "bench_custom_strategy.py",
    "bench_scaleout.py",
    "bench_monitor.py",
    "bench_websockets.py",
    "bench_api.py",
]

# This machine is a shared 2-core VM whose speed drifts by 2x within an hour: a fixed pure-Python
# loop, timed before and after the benchmarks, says how fast the host was while they ran.
QUIET_HOST_SECONDS = 0.40  # the loop on this VM, quiet (2026-11-25)


def host_speed() -> float:
    started = time.perf_counter()
    total = 0
    for number in range(5_000_000):
        total += number * number
    return time.perf_counter() - started


def print_host_speed(when: str) -> None:
    seconds = host_speed()
    print(
        f"host speed {when}: reference loop {seconds:.2f} s "
        f"(quiet host {QUIET_HOST_SECONDS:.2f} s; higher = a slower host, figures scale with it)",
        flush=True,
    )


if __name__ == "__main__":
    failed = 0
    print_host_speed("before")
    for name in BENCHMARKS:
        print(f"\n=== {name} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name)], cwd=HERE.parent)  # noqa: S603
    print()
    print_host_speed("after")
    sys.exit(failed)
