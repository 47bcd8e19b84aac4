"""The sandbox pool: pre-started jailed processes that run custom strategy code, plain data in/out.

A worker (Celery, web, bench) never runs strategy code itself. It hands the code and the inputs
to one of a few sandbox processes started from a fresh interpreter (`python -I`, an empty
environment, no secrets, no Django) that fork a rlimited child per request; see
`sandbox_process.py` for what the jail holds. Whatever the code does — loop forever, eat memory,
crash, print nonsense — the call returns a `SandboxResult` with `ok=False` and a clear error,
and the calling process carries on; a sandbox process that stops answering is killed and
replaced.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from pydantic import BaseModel, Field, ValidationError, field_validator

logger = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("sandbox_process.py")
HEADER = struct.Struct(">I")
# What the sandbox process may see of the environment: nothing secret, nothing configurable.
CLEAN_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
# Above the wall-clock limit, how long the pool waits for a sandbox process that is not even
# answering (its own kill of the child should have happened long before).
BACKSTOP_SECONDS = 3.0
START_TIMEOUT_SECONDS = 30.0


class SandboxError(Exception):
    """The pool could not run the request at all (the sandbox process would not start)."""


class StrategyOutput(BaseModel):
    """What a strategy returns for one evaluation, validated: anything else fails the run."""

    model_config = {"extra": "forbid"}

    signal: str
    stop_loss: float | None = Field(default=None, gt=0)
    targets: list[float] = Field(default_factory=list, max_length=3)
    reason: str = Field(default="", max_length=500)

    @field_validator("signal", mode="before")
    @classmethod
    def _signal(cls, value: Any) -> str:
        if not isinstance(value, str) or value.strip().upper() not in ("BUY", "SELL", "HOLD"):
            raise ValueError("signal must be BUY, SELL or HOLD")
        return value.strip().upper()

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[float]) -> list[float]:
        if any(target <= 0 for target in value):
            raise ValueError("targets must be positive prices")
        return value


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int
    memory_bytes: int
    wall_seconds: float

    @classmethod
    def from_settings(cls) -> SandboxLimits:
        return cls(
            cpu_seconds=int(settings.CUSTOM_STRATEGY_CPU_SECONDS),
            memory_bytes=int(settings.CUSTOM_STRATEGY_MEMORY_MB) * 1024 * 1024,
            wall_seconds=float(settings.CUSTOM_STRATEGY_WALL_SECONDS),
        )


@dataclass
class SandboxResult:
    """One sandbox call: the validated outputs (one per evaluation) or why there are none."""

    ok: bool
    outputs: list[StrategyOutput] = field(default_factory=list)
    # timeout | memory | crash | invalid_output | error | unavailable
    kind: str = ""
    error: str = ""
    duration_ms: float = 0.0
    peak_memory_bytes: int = 0
    cpu_seconds: float = 0.0

    @property
    def is_anomaly(self) -> bool:
        """Failures a correct strategy does not produce: runaway time or memory, a crash,
        output that is not a signal."""
        return not self.ok and self.kind in ("timeout", "memory", "crash", "invalid_output")


def _read_exactly(stream, size: int, deadline: float) -> bytes:
    data = b""
    fd = stream.fileno()
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the sandbox process did not answer in time")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the sandbox process ended")
        data += chunk
    return data


class _SandboxProcess:
    """One pre-started sandbox process and its two pipes."""

    def __init__(self):
        self.process = subprocess.Popen(  # noqa: S603 - our own script, no shell, clean env
            [sys.executable, "-I", str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(CLEAN_ENVIRONMENT),
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
        hello = self._read(time.monotonic() + START_TIMEOUT_SECONDS)
        if not hello.get("ready"):
            raise SandboxError("the sandbox process did not start")
        self.facts = hello

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self, deadline: float) -> dict[str, Any]:
        (size,) = HEADER.unpack(_read_exactly(self.process.stdout, HEADER.size, deadline))
        return json.loads(_read_exactly(self.process.stdout, size, deadline))

    def send(self, request: dict[str, Any]) -> None:
        if self.process.poll() is not None:
            raise BrokenPipeError("the sandbox process has ended")
        body = json.dumps(request, separators=(",", ":")).encode()
        self.process.stdin.write(HEADER.pack(len(body)) + body)
        self.process.stdin.flush()

    def receive(self, *, deadline: float) -> dict[str, Any]:
        return self._read(deadline)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class SandboxPool:
    """A few sandbox processes started ahead of time; each request borrows one."""

    def __init__(self, size: int):
        self.size = max(1, size)
        self.owner_pid = os.getpid()
        self._idle: list[_SandboxProcess] = []
        self._started = 0
        self._condition = threading.Condition()

    def _borrow(self) -> _SandboxProcess:
        with self._condition:
            while not self._idle and self._started >= self.size:
                self._condition.wait()
            if self._idle:
                return self._idle.pop()
            self._started += 1
        try:
            return _SandboxProcess()
        except BaseException:
            with self._condition:
                self._started -= 1
                self._condition.notify()
            raise

    def _give_back(self, process: _SandboxProcess | None) -> None:
        with self._condition:
            if process is None:
                self._started -= 1
            else:
                self._idle.append(process)
            self._condition.notify()

    def warm_up(self) -> dict[str, Any]:
        """Start every process now (not on first use); the facts of one of them."""
        borrowed = [self._borrow() for _ in range(self.size)]
        facts = borrowed[0].facts
        for process in borrowed:
            self._give_back(process)
        return facts

    def run(
        self, code: str, calls: list[dict[str, Any]], *, limits: SandboxLimits | None = None
    ) -> SandboxResult:
        limits = limits or SandboxLimits.from_settings()
        request = {
            "code": code,
            "calls": calls,
            "limits": {
                "cpu_seconds": limits.cpu_seconds,
                "memory_bytes": limits.memory_bytes,
                "wall_seconds": limits.wall_seconds,
            },
        }
        # A sandbox process found dead before it took the request (killed while idle) is
        # replaced and the request sent once more; one that fails while running it is not
        # retried — that failure is the strategy's.
        for attempt in (1, 2):
            try:
                process = self._borrow()
            except (SandboxError, OSError, EOFError, TimeoutError) as error:
                return SandboxResult(ok=False, kind="unavailable", error=f"sandbox: {error}")
            try:
                process.send(request)
            except OSError as error:
                logger.warning("sandbox process %s was gone (%s); replacing it", process.pid, error)
                process.kill()
                self._give_back(None)
                if attempt == 2:
                    return SandboxResult(ok=False, kind="unavailable", error=f"sandbox: {error}")
                continue
            try:
                reply = process.receive(deadline=time.monotonic() + limits.wall_seconds + 3)
            except (OSError, EOFError, TimeoutError, ValueError) as error:
                logger.warning("sandbox process %s failed (%s); replacing it", process.pid, error)
                process.kill()
                self._give_back(None)
                return SandboxResult(ok=False, kind="crash", error=f"the sandbox failed: {error}")
            self._give_back(process)
            return _result(reply, expected=len(calls))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
            self._started -= len(idle)
        for process in idle:
            process.kill()


def _result(reply: dict[str, Any], *, expected: int) -> SandboxResult:
    facts = {
        "duration_ms": float(reply.get("duration_ms") or 0),
        "peak_memory_bytes": int(reply.get("peak_memory_bytes") or 0),
        "cpu_seconds": float(reply.get("cpu_seconds") or 0),
    }
    if not reply.get("ok"):
        return SandboxResult(
            ok=False,
            kind=str(reply.get("kind") or "error"),
            error=str(reply.get("error") or "the strategy failed")[:500],
            **facts,
        )
    raw = reply.get("outputs")
    if not isinstance(raw, list) or len(raw) != expected:
        return SandboxResult(
            ok=False, kind="invalid_output", error="the strategy gave no answer per bar", **facts
        )
    outputs = []
    for index, item in enumerate(raw):
        try:
            outputs.append(StrategyOutput.model_validate(item))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'output'}: {e['msg']}"
                for e in error.errors()
            )
            where = f" (evaluation {index + 1})" if expected > 1 else ""
            return SandboxResult(
                ok=False,
                kind="invalid_output",
                error=f"invalid strategy output{where}: {problems}"[:500],
                **facts,
            )
    return SandboxResult(ok=True, outputs=outputs, **facts)


_pool: SandboxPool | None = None
_pool_lock = threading.Lock()


def sandbox_pool() -> SandboxPool:
    """This process's pool (a forked child — a Celery prefork worker — gets its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.owner_pid != os.getpid():
            _pool = SandboxPool(int(settings.CUSTOM_STRATEGY_SANDBOX_POOL_SIZE))
        return _pool


def sandbox_evaluate(code: str, inputs: dict[str, Any]) -> SandboxResult:
    """Run a strategy once: `inputs` holds bars, indicators, position and params."""
    return sandbox_pool().run(code, [inputs])


def sandbox_evaluate_many(code: str, inputs: list[dict[str, Any]]) -> SandboxResult:
    """Run a strategy over many bars in one sandbox call (a backtest's chunk of history): one
    output per input, in order; the limits apply to the whole call."""
    if not inputs:
        return SandboxResult(ok=True)
    return sandbox_pool().run(code, inputs)
