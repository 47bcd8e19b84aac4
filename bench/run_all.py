"""Run every benchmark in bench/ and print their figures (`make bench`)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_engine.py", "bench_llm.py", "bench_signals.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHMARKS:
        print(f"\n=== {name} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name)], cwd=HERE.parent)  # noqa: S603
    sys.exit(failed)
