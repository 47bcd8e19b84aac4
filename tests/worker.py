"""A real Celery worker in its own process, on the test database, for tests that kill one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker_process_start(**extra_env: str) -> subprocess.Popen:
    """A one-process prefork worker on the executions and default queues, pointed at the test
    database (whose name differs from the configured one) with `extra_env` on top."""
    from django.conf import settings

    from config.celery import app as celery_app

    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{database['USER']}@/{database['NAME']}?host={database['HOST']}",
        **extra_env,
    }
    celery_app.control.purge()
    return subprocess.Popen(
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
