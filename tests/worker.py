"""A real Celery worker in its own process, on the test database, for tests that kill one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# A cold worker imports Django, the agents and the pool child; on a loaded machine that took
# over a minute. Generous, because it is only a ceiling: the wait ends at the first answer.
WORKER_READY_TIMEOUT = 300


def worker_process_start(**extra_env: str) -> subprocess.Popen:
    """A one-process prefork worker on the executions and default queues, pointed at the test
    database (whose name differs from the configured one) with `extra_env` on top. Returns once
    the worker answers a ping, so a test's own deadlines start with a worker that is ready."""
    from django.conf import settings

    from config.celery import app as celery_app

    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{database['USER']}@/{database['NAME']}?host={database['HOST']}",
        **extra_env,
    }
    celery_app.control.purge()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-P",
            "prefork",
            "-c",
            "1",
            "-Q",
            "executions,default",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own process group, so a test can kill the worker with its pool children at once.
        start_new_session=True,
    )
    worker_ready_wait(worker)
    return worker


def worker_ready_wait(worker: subprocess.Popen, timeout: float = WORKER_READY_TIMEOUT) -> None:
    """Wait until a worker answers a Celery ping; fail if `worker` exits or none answers."""
    from config.celery import app as celery_app

    deadline = time.monotonic() + timeout
    while not celery_app.control.ping(timeout=0.5):
        if worker.poll() is not None:
            raise AssertionError(f"the Celery worker exited with {worker.returncode} on start")
        if time.monotonic() > deadline:
            worker.terminate()
            raise AssertionError(f"the Celery worker answered no ping within {timeout}s")
