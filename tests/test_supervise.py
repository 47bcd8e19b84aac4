"""`make run`'s supervisor restarts a process that exits, with backoff, logs it, and leaves the
others running; SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _wait(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_it_restarts_a_crashed_process_with_backoff_and_keeps_the_others(tmp_path):
    runs, steady_pid, log = tmp_path / "runs", tmp_path / "steady.pid", tmp_path / "out.log"
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"crasher: echo run >> {runs}; exit 3\nsteady: echo $$ > {steady_pid}; exec sleep 600\n"
    )
    with log.open("wb") as out:
        supervisor = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, str(ROOT / "bin" / "supervise.py"), "-f", str(procfile)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            _wait(
                lambda: steady_pid.exists() and steady_pid.read_text().strip(),
                timeout=30,
                what="the steady process starting",
            )
            first_pid = int(steady_pid.read_text())
            _wait(
                lambda: runs.exists() and len(runs.read_text().split()) >= 3,
                timeout=60,
                what="two restarts of the crashing process",
            )

            assert _alive(first_pid)  # the crash took nothing else down
            assert int(steady_pid.read_text()) == first_pid
            text = log.read_text()
            assert "crasher exited with status 3; restarting in 1s" in text
            assert "crasher exited with status 3; restarting in 2s" in text  # backing off
        finally:
            supervisor.send_signal(signal.SIGTERM)
            code = supervisor.wait(timeout=30)

    assert code == 0
    _wait(lambda: not _alive(first_pid), timeout=10, what="the steady process stopping")
    assert "stopping steady" in log.read_text()
