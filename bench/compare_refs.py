"""Engine and dispatcher figures of a base ref beside the current tree's, measured back to back.

Issue 15's yardstick: `make bench` engine and dispatcher figures stay within 10% of before the
change. On a shared machine whose speed drifts, two runs an hour apart say nothing; this script
runs the base and the current tree ALTERNATELY (base, current, then current, base, …), so the
other users' load falls on both sides alike, and compares the medians.

    uv run --no-sync python bench/compare_refs.py                 # base 6337360, 3 rounds
    uv run --no-sync python bench/compare_refs.py --base main~5 --rounds 5
    uv run --no-sync python bench/compare_refs.py --quick         # 1 round, small runs

What it does:
1. `git worktree add --detach var/bench-base <base>` (removed first if a run left one). The base
   runs on this clone's `.venv` when `uv.lock` and `pyproject.toml` are the same in both trees;
   otherwise `uv sync --frozen` builds the worktree a `.venv` of its own.
2. Each tree gets its own embedded PostgreSQL and Redis under its `var/` (VAR_DIR; DATABASE_URL
   and REDIS_URL are unset so neither reaches the other's) and its own migrations.
3. Each round runs `bench/bench_engine.py` and `bench/bench_signals.py` (the signal dispatcher:
   its index and end to end through Redis Streams) of both trees, DEBUG off as `make bench` does,
   with the 1-minute load average beside each run.
4. It prints each round's figures, then per figure the medians and current/base: a ratio that
   reads worse than 10% is marked.
5. Always (also on Ctrl-C or SIGTERM): the base's services stop, the worktree goes, and the
   current tree's services stop if this script started them.

Not part of `make bench` (it takes ~10 minutes for 3 rounds on the 2-core VM).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_DIR = ROOT / "var" / "bench-base"
DEFAULT_BASE = "6337360"
TOLERANCE = 0.10


@dataclass(frozen=True)
class Figure:
    """One number a bench prints: the section it follows, the line's label and a pattern."""

    name: str
    section: str
    pattern: str
    higher_is_better: bool
    unit: str


FIGURES = [
    Figure(
        "engine in-process runs/s",
        "engine, one worker process running",
        r"throughput:\s+([\d.,]+) executions/s",
        True,
        "/s",
    ),
    Figure(
        "engine in-process p50",
        "engine, one worker process running",
        r"time per execution:\s+p50 ([\d.]+) ms",
        False,
        "ms",
    ),
    Figure(
        "engine threaded runs/s",
        "engine, one worker process with",
        r"throughput:\s+([\d.,]+) executions/s",
        True,
        "/s",
    ),
    Figure(
        "engine via Celery p50",
        "engine, through Redis",
        r"start → completed:\s+p50 ([\d.]+) ms",
        False,
        "ms",
    ),
    Figure(
        "dispatcher match signals/s",
        "dispatcher index:",
        r"throughput:\s+([\d.,]+) signals/s",
        True,
        "/s",
    ),
    Figure(
        "dispatcher match p50",
        "dispatcher index:",
        r"match latency:\s+p50 ([\d.]+) µs",
        False,
        "µs",
    ),
    Figure(
        "dispatcher XADD→enqueued p50",
        "dispatcher end to end:",
        r"XADD → committed \+ enqueued:\s+p50 ([\d.]+) ms",
        False,
        "ms",
    ),
    Figure(
        "dispatcher handling p50",
        "dispatcher end to end:",
        r"of which handling:\s+p50 ([\d.]+) ms",
        False,
        "ms",
    ),
]
BENCHES = ("bench_engine.py", "bench_signals.py")


@dataclass
class Tree:
    """A source tree with its own embedded services."""

    label: str
    path: Path
    python: str
    started_services: bool = False
    results: list[dict[str, float]] = field(default_factory=list)

    @property
    def embedded(self) -> str:
        core = self.path / "config" / "core" / "embedded.py"
        return "config.core.embedded" if core.exists() else "config.embedded"

    def env(self, *, debug: bool) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env["VAR_DIR"] = str(self.path / "var")
        env["DJANGO_DEBUG"] = "true" if debug else "false"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def run(self, *args: str, debug: bool = True, timeout: float = 1800) -> str:
        done = subprocess.run(  # noqa: S603 - our own interpreter and scripts
            [self.python, *args],
            cwd=self.path,
            env=self.env(debug=debug),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{self.label}: {' '.join(args)} exited {done.returncode}\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def services_running(self) -> bool:
        status = self.run("-m", self.embedded, "status")
        return "PostgreSQL: running" in status and "Redis:      running" in status

    def prepare(self) -> None:
        self.started_services = not self.services_running()
        self.run("-m", self.embedded, "up")
        self.run("manage.py", "migrate", "--noinput")

    def stop_services(self) -> None:
        try:
            self.run("-m", self.embedded, "down", timeout=120)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"  could not stop {self.label}'s services: {error}", file=sys.stderr)


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607 - git on PATH, as every developer runs it
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def remove_worktree() -> None:
    if BASE_DIR.exists():
        subprocess.run(  # noqa: S603
            ["git", "worktree", "remove", "--force", str(BASE_DIR)],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
        )
        shutil.rmtree(BASE_DIR, ignore_errors=True)
    _git("worktree", "prune")


def base_tree(ref: str) -> Tree:
    """A fresh worktree of `ref`, with the interpreter that has its dependencies."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    remove_worktree()
    BASE_DIR.parent.mkdir(parents=True, exist_ok=True)
    _git("worktree", "add", "--detach", str(BASE_DIR), commit)
    same_deps = (
        subprocess.run(  # noqa: S603
            ["git", "diff", "--quiet", commit, "--", "uv.lock", "pyproject.toml"],  # noqa: S607
            cwd=ROOT,
        ).returncode
        == 0
    )
    python = sys.executable
    if not same_deps:
        print("  uv.lock or pyproject.toml differ: `uv sync --frozen` in the worktree", flush=True)
        uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
        subprocess.run([uv, "sync", "--frozen"], cwd=BASE_DIR, check=True)  # noqa: S603
        python = str(BASE_DIR / ".venv" / "bin" / "python")
    return Tree(f"base {ref} ({commit[:7]})", BASE_DIR, python)


def parse(output: str) -> dict[str, float]:
    """The figures found in a bench's output, by name (a figure missing is left out)."""
    found: dict[str, float] = {}
    section = ""
    for line in output.splitlines():
        if not line.startswith(" "):
            section = line
        for figure in FIGURES:
            if figure.name in found or not section.startswith(figure.section):
                continue
            match = re.search(figure.pattern, line)
            if match:
                found[figure.name] = float(match.group(1).replace(",", ""))
    return found


def run_round(tree: Tree, sizes: dict[str, list[str]]) -> dict[str, float]:
    figures: dict[str, float] = {}
    for bench in BENCHES:
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        output = tree.run(f"bench/{bench}", *sizes[bench], debug=False)
        load_after = os.getloadavg()[0]
        found = parse(output)
        figures.update(found)
        figures[f"load {bench}"] = (load_before + load_after) / 2
        print(
            f"  {tree.label:<28} {bench:<17} {time.monotonic() - started:6.1f} s, "
            f"load {load_before:.2f}→{load_after:.2f}: "
            + ", ".join(f"{name} {value:,.2f}" for name, value in found.items()),
            flush=True,
        )
    return figures


def report(base: Tree, current: Tree) -> bool:
    """The medians side by side; False when a figure reads more than 10% worse."""
    within = True
    print(
        f"\n{'figure':<30} {'base median':>13} {'current median':>15} {'current/base':>13}  "
        "(load: base / current)"
    )
    for figure in FIGURES:
        base_values = [r[figure.name] for r in base.results if figure.name in r]
        current_values = [r[figure.name] for r in current.results if figure.name in r]
        if not base_values or not current_values:
            print(f"{figure.name:<30} missing from a tree's output")
            within = False
            continue
        b, c = statistics.median(base_values), statistics.median(current_values)
        ratio = c / b if b else float("inf")
        worse = ratio < 1 - TOLERANCE if figure.higher_is_better else ratio > 1 + TOLERANCE
        within &= not worse
        bench = "bench_engine.py" if figure.name.startswith("engine") else "bench_signals.py"
        loads = (
            statistics.median(r[f"load {bench}"] for r in base.results),
            statistics.median(r[f"load {bench}"] for r in current.results),
        )
        print(
            f"{figure.name:<30} {b:>10,.2f} {figure.unit:<2} {c:>12,.2f} {figure.unit:<2} "
            f"{ratio:>12.3f}{'  WORSE >10%' if worse else ''}  ({loads[0]:.2f} / {loads[1]:.2f})"
        )
    print("(rates: higher is better; p50s: lower is better)")
    return within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="the ref to compare against")
    parser.add_argument("--rounds", type=int, default=3, help="base/current pairs (default 3)")
    parser.add_argument("--engine-runs", type=int, default=500, help="bench_engine.py's argument")
    parser.add_argument("--signals", type=int, default=1000, help="bench_signals.py's argument")
    parser.add_argument("--quick", action="store_true", help="1 round, 100 runs, 200 signals")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.engine_runs, args.signals = 1, 100, 200
    sizes = {"bench_engine.py": [str(args.engine_runs)], "bench_signals.py": [str(args.signals)]}
    # SIGTERM ends the run like Ctrl-C: the finally below cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    current = Tree(f"current (at {_git('rev-parse', '--short', 'HEAD')})", ROOT, sys.executable)
    base = None
    print(f"host: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at the start", flush=True)
    try:
        base = base_tree(args.base)
        for tree in (base, current):
            print(f"  preparing {tree.label}: services and migrations", flush=True)
            tree.prepare()
        for number in range(args.rounds):
            print(f"round {number + 1}/{args.rounds}", flush=True)
            # ABBA: which tree goes first alternates, so a drift in speed favours neither.
            order = (base, current) if number % 2 == 0 else (current, base)
            for tree in order:
                tree.results.append(run_round(tree, sizes))
        within = report(base, current)
    finally:
        if base is not None and BASE_DIR.exists():
            base.stop_services()
        remove_worktree()
        if current.started_services:
            current.stop_services()
    print("every figure within 10% of the base" if within else "a figure is more than 10% worse")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
