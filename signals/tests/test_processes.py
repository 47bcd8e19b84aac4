"""The `dispatcher` and `generators` processes (Procfile): they do their work against the real
Redis and PostgreSQL, and stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from pipelines.models import PipelineExecution
from signals.tests.factories import signal_body, signal_pipeline

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def _start(command: list[str]) -> subprocess.Popen:
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        # The test database, so the process sees the rows this test writes.
        "DATABASE_URL": f"postgresql://{database['USER']}@/{database['NAME']}?host={database['HOST']}",
        "DJANGO_DEBUG": "true",
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return process.returncode, out, err


def _wait_for(check, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_the_dispatcher_process_starts_matched_pipelines_and_stops_on_sigterm(
    owner, default_bus, executions_queue
):
    pipeline = signal_pipeline(owner=owner)
    process = _start(["run_dispatcher", "--consumer", "test-process"])
    try:
        default_bus.publish(signal_body())
        started = _wait_for(lambda: PipelineExecution.objects.filter(pipeline=pipeline).exists())
    finally:
        code, out, err = _stop(process)

    assert started, err
    assert code == 0, err
    assert "dispatcher stopped" in out
    assert default_bus.pending_count() == 0


def test_the_generators_process_publishes_and_stops_on_sigterm(default_bus):
    process = _start(["run_generators"])
    try:
        # DEBUG is a demo: the mock generator publishes on its first turn.
        published = _wait_for(lambda: default_bus.client.xlen(default_bus.stream) > 0)
    finally:
        code, out, err = _stop(process)

    assert published, err
    assert code == 0, err
    assert "generators stopped" in out
