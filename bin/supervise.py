"""Run every process of a Procfile, restarting any that exits, with backoff; `make run` uses it.

honcho stops everything when one process exits, so one crash took the whole system down. Here a
process that exits is logged (name, exit status) and started again after a backoff that doubles
from 1 s up to 60 s and resets once the process has stayed up for a minute. SIGINT/SIGTERM stop
them all (SIGTERM, then SIGKILL after a grace period). Output is prefixed with the process name.

    python bin/supervise.py [-f Procfile] [--grace 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
STABLE_AFTER = 60.0  # seconds up after which a crash starts the backoff from the beginning


def procfile_read(path: Path) -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        processes[name.strip()] = command.strip()
    return processes


@dataclass
class Supervised:
    name: str
    command: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_FIRST
    restart_at: float | None = None
    restarts: int = 0
    pumps: list[threading.Thread] = field(default_factory=list)


class Supervisor:
    def __init__(self, processes: dict[str, str], *, grace: float = 10.0, out=sys.stdout):
        self.children = [Supervised(name, command) for name, command in processes.items()]
        self.width = max((len(name) for name in processes), default=0)
        self.grace = grace
        self.out = out
        self._write_lock = threading.Lock()
        self.stopping = threading.Event()

    def _print(self, name: str, text: str) -> None:
        with self._write_lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} | {text}\n")
            self.out.flush()

    def _pump(self, child: Supervised, stream) -> None:
        for raw in iter(stream.readline, b""):
            self._print(child.name, raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    def start(self, child: Supervised) -> None:
        # A Procfile line is a shell command line (${PORT:-8000}), as honcho runs it.
        child.process = subprocess.Popen(  # noqa: S602
            child.command,
            shell=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopping it stops its children too
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        pump = threading.Thread(target=self._pump, args=(child, child.process.stdout), daemon=True)
        pump.start()
        child.pumps = [pump]
        self._print("supervise", f"started {child.name} (pid {child.process.pid})")

    def check(self) -> None:
        """One pass: notice exits and schedule restarts; start what is due."""
        now = time.monotonic()
        for child in self.children:
            if child.process is not None and child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    continue
                if now - child.started_at >= STABLE_AFTER:
                    child.backoff = BACKOFF_FIRST
                child.restart_at = now + child.backoff
                child.restarts += 1
                message = (
                    f"{child.name} exited with status {code}; restarting in {child.backoff:.0f}s"
                )
                self._print("supervise", message)
                child.backoff = min(child.backoff * 2, BACKOFF_MAX)
            elif child.restart_at is not None and now >= child.restart_at:
                self.start(child)

    def run(self) -> None:
        for child in self.children:
            self.start(child)
        while not self.stopping.wait(0.2):
            self.check()
        self.stop_all()

    def stop_all(self) -> None:
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in running:
            self._print("supervise", f"stopping {child.name}")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for child in running:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._print("supervise", f"{child.name} did not stop; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        for child in self.children:
            for pump in child.pumps:
                pump.join(timeout=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--procfile", default="Procfile", type=Path)
    parser.add_argument("--grace", default=10.0, type=float, help="seconds before SIGKILL")
    args = parser.parse_args(argv)
    supervisor = Supervisor(procfile_read(args.procfile), grace=args.grace)

    def on_signal(signum, frame):
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
