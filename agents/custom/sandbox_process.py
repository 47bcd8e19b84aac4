"""The sandbox process: custom strategy code under RestrictedPython, in forked rlimited children.

This file is executed on its own (`python -I sandbox_process.py`), never imported by Django: it
uses only the standard library and RestrictedPython. It starts with a clean environment, moves
into a network namespace of its own where the kernel allows it (no interfaces but a downed
loopback, so no connection can be made), drops root, and then serves requests on stdin/stdout as
length-prefixed JSON frames. Each request runs in a child forked for it alone — fresh interpreter
state per run, so nothing one run does survives into the next — under rlimits (CPU seconds,
address space, no new processes, no file writes, no new file descriptors) and a wall-clock kill.
"""

from __future__ import annotations

import builtins as python_builtins
import json
import math
import os
import resource
import select
import signal
import struct
import sys
import time

from RestrictedPython import compile_restricted, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 64 * 1024 * 1024
NOBODY = 65534
SIGNALS = ("BUY", "SELL", "HOLD")


# --- framing -----------------------------------------------------------------------------------


def read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int):
    header = read_exactly(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_REQUEST_BYTES:
        return None
    body = read_exactly(fd, size)
    return None if body is None else json.loads(body)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_frame(fd: int, message) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    write_all(fd, HEADER.pack(len(body)) + body)


# --- isolation of the whole process ------------------------------------------------------------


def _interfaces() -> list[str]:
    """The network interfaces this process sees (its own namespace's, per /proc/self/net)."""
    try:
        with open("/proc/self/net/dev") as table:
            return sorted(line.split(":")[0].strip() for line in table.readlines()[2:])
    except OSError:
        return []


def isolate() -> dict:
    """Leave the host's network and drop root; say what the kernel allowed."""
    facts = {"network_namespace": False, "dropped_root": False}
    unshare = getattr(os, "unshare", None)
    if unshare is not None:
        for flags in (os.CLONE_NEWNET, os.CLONE_NEWUSER | os.CLONE_NEWNET):
            try:
                unshare(flags)
            except OSError:
                continue
            facts["network_namespace"] = True
            break
    if os.getuid() == 0:
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            facts["dropped_root"] = True
        except OSError:
            pass
    # Nothing the strategy code could reach anyway, but nothing it needs either.
    for name in ("socket", "_socket", "ssl", "_ssl", "subprocess", "_posixsubprocess"):
        sys.modules.pop(name, None)
    facts["uid"] = os.getuid()
    facts["environment"] = sorted(os.environ)
    facts["socket_module"] = "socket" in sys.modules or "_socket" in sys.modules
    facts["interfaces"] = _interfaces()
    return facts


# --- the restricted namespace ------------------------------------------------------------------


class _ReadOnly:
    """A plain namespace of functions and constants (the `math` the strategy code sees)."""

    __slots__ = ("_values",)

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return object.__getattribute__(self, "_values")[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("math is read-only")


MATH = _ReadOnly(
    {
        name: getattr(math, name)
        for name in (
            "sqrt",
            "log",
            "log10",
            "exp",
            "floor",
            "ceil",
            "fabs",
            "isnan",
            "isfinite",
            "inf",
            "nan",
            "pi",
            "e",
            "tanh",
            "atan",
        )
    }
)


def _inplacevar(op: str, left, right):
    """`x += y` and friends, for numbers, strings and lists only."""
    allowed = (int, float, bool, str, list, tuple)
    if not isinstance(left, allowed) or not isinstance(right, allowed):
        raise TypeError(f"{op} is only allowed on numbers, strings and lists")
    operations = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if op not in operations:
        raise TypeError(f"{op} is not allowed")
    sequence = isinstance(left, (str, list, tuple))
    if op == "*=" and sequence and isinstance(right, int) and right * len(left) > 1_000_000:
        raise MemoryError("sequence too large")
    return operations[op](left, right)


def _guarded_pow(base, exponent):
    return base**exponent


def strategy_globals() -> dict:
    builtins = dict(safe_builtins)
    builtins.update(limited_builtins)
    # `range` is Python's own: RestrictedPython's refuses more than 1000 elements, but a lazy
    # range is harmless (the CPU limit bounds a loop over it) and histories are longer.
    for name in (
        "min",
        "max",
        "sum",
        "any",
        "all",
        "enumerate",
        "reversed",
        "map",
        "sorted",
        "zip",
        "range",
    ):
        builtins[name] = getattr(python_builtins, name)
    builtins["dict"] = dict
    builtins["list"] = list
    builtins["set"] = set
    builtins["filter"] = filter
    # Never reachable: names the static review refuses, removed here as well.
    for name in ("__import__", "__build_class__", "setattr", "delattr", "type", "open"):
        builtins.pop(name, None)
    return {
        "__builtins__": builtins,
        "__name__": "strategy",
        "__metaclass__": None,
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "math": MATH,
    }


# --- one run, in a forked child ----------------------------------------------------------------


def _plain(value, depth=0):
    """`value` as JSON-able plain data, or a TypeError."""
    if depth > 4:
        raise TypeError("the result is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value) if isinstance(value, float) else int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    raise TypeError(f"the result holds a {type(value).__name__}, not plain data")


# Compiled strategies by source, kept in this process so a forked child starts from byte code:
# compiling (parse, RestrictedPython's transform) costs more than the run of a typical strategy.
# Compiling executes nothing; a source that does not compile is answered without a fork.
COMPILED: dict[str, object] = {}
MAX_COMPILED = 64


def compiled(code: str):
    byte_code = COMPILED.get(code)
    if byte_code is None:
        byte_code = compile_restricted(code, filename="<strategy>", mode="exec")
        if len(COMPILED) >= MAX_COMPILED:
            COMPILED.pop(next(iter(COMPILED)))
        COMPILED[code] = byte_code
    return byte_code


def run_strategy(request: dict, byte_code) -> dict:
    namespace = strategy_globals()
    exec(byte_code, namespace)  # noqa: S102 - restricted byte code in a jailed child
    strategy = namespace.get("strategy")
    if not callable(strategy):
        raise TypeError("the code defines no strategy(bars, indicators, position, params)")
    outputs = []
    for call in request["calls"]:
        result = strategy(call["bars"], call["indicators"], call["position"], call["params"])
        if isinstance(result, str):
            result = {"signal": result}
        outputs.append(_plain(result))
    return {"ok": True, "outputs": outputs}


def child_main(request: dict, byte_code, result_fd: int, limits: dict) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    # Only the result pipe stays open: not the parent's protocol pipes (no forged replies).
    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, 4096)
    cpu = int(limits["cpu_seconds"])
    memory = int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (result_fd + 1, result_fd + 1))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    sys.setrecursionlimit(int(limits.get("recursion", 200)))
    try:
        response = run_strategy(request, byte_code)
        body = json.dumps(response, separators=(",", ":"), allow_nan=False).encode()
    except MemoryError:
        body = (
            b'{"ok":false,"kind":"memory","error":"MemoryError: the strategy used too much memory"}'
        )
    except RecursionError:
        body = b'{"ok":false,"kind":"error","error":"RecursionError: recursion too deep"}'
    except SyntaxError as error:
        body = json.dumps({"ok": False, "kind": "error", "error": f"SyntaxError: {error}"[:500]})
        body = body.encode()
    except BaseException as error:  # everything the strategy raises fails its run, never us
        try:
            message = f"{type(error).__name__}: {error}"[:500]
        except BaseException:
            message = type(error).__name__
        body = json.dumps({"ok": False, "kind": "error", "error": message}).encode()
    write_all(result_fd, body)


def serve_one(request: dict) -> dict:
    limits = request["limits"]
    wall = float(limits["wall_seconds"])
    max_output = int(limits.get("output_bytes", 4 * 1024 * 1024))
    started = time.monotonic()
    try:
        byte_code = compiled(request["code"])
    except SyntaxError as error:
        return {"ok": False, "kind": "error", "error": f"SyntaxError: {error}"[:500]}
    except (ValueError, TypeError, MemoryError, RecursionError) as error:
        return {"ok": False, "kind": "error", "error": f"the code does not compile: {error}"[:500]}
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_end)
            child_main(request, byte_code, write_end, limits)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    size = 0
    failure = None
    deadline = started + wall
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            failure = ("timeout", f"the strategy ran longer than {wall:g} s and was stopped")
            break
        ready, _, _ = select.select([read_end], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_end, 1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > max_output:
            failure = ("invalid_output", "the strategy's output is too large")
            break
        chunks.append(chunk)
    if failure is not None:
        os.kill(pid, signal.SIGKILL)
    os.close(read_end)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - started
    facts = {
        "duration_ms": round(elapsed * 1000, 3),
        "peak_memory_bytes": usage.ru_maxrss * 1024,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 4),
    }
    if failure is None and os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU or (number == signal.SIGKILL and facts["cpu_seconds"] >= 1):
            failure = ("timeout", f"the strategy used more than {limits['cpu_seconds']} s of CPU")
        else:
            failure = ("crash", f"the strategy's process died ({signal.Signals(number).name})")
    if failure is None and not chunks:
        failure = ("crash", "the strategy's process ended without an answer")
    if failure is not None:
        return {"ok": False, "kind": failure[0], "error": failure[1], **facts}
    try:
        response = json.loads(b"".join(chunks))
    except ValueError:
        return {"ok": False, "kind": "invalid_output", "error": "unreadable output", **facts}
    return {**response, **facts}


def main() -> None:
    # The parent talks on fds 0/1; move them away so nothing else writes into the protocol.
    requests = os.dup(0)
    replies = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.close(devnull)
    facts = isolate()
    write_frame(replies, {"ready": True, "pid": os.getpid(), **facts})
    while True:
        request = read_frame(requests)
        if request is None:
            return
        try:
            reply = serve_one(request)
        except Exception as error:  # a broken request; the process itself stays up
            reply = {"ok": False, "kind": "crash", "error": f"sandbox: {error}"[:300]}
        write_frame(replies, reply)


if __name__ == "__main__":
    main()
