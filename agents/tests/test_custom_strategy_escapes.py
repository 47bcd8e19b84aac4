"""The escape corpus: hostile strategy code, each case stopped at review or contained at run time.

Every case is also run in the sandbox even when the static review stops it (defence in depth:
the sandbox must hold on its own). An escape would be any output or error carrying the canary
secret from the worker's environment or a file, a file written outside, or a sandbox that stops
answering; the test worker (this process) and the pool must survive every case.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agents.custom.sandbox import SandboxLimits, sandbox_pool
from agents.custom.static_review import static_review

CANARY = "canary-7f3a9c41e2"
SECRET_FILE = Path("/tmp/tradecrew-h20-secret.txt")  # noqa: S108 - a test canary
SENTINEL = Path("/tmp/tradecrew-h20-escaped")  # noqa: S108 - must never be created
# Shorter than the production limits (5 s, 100 MB) so the corpus runs quickly; same mechanisms.
LIMITS = SandboxLimits(cpu_seconds=2, memory_bytes=100 * 1024 * 1024, wall_seconds=2.0)

GOOD = """
def strategy(bars, indicators, position, params):
    close = bars["5m"]["close"]
    return {"signal": "BUY" if close[-1] > close[0] else "HOLD", "reason": "trend"}
"""
INPUTS = {
    "bars": {
        "5m": {
            "open": [1.0, 2.0],
            "high": [1.0, 2.0],
            "low": [1.0, 2.0],
            "close": [1.0, 2.0],
            "volume": [10.0, 20.0],
        }
    },
    "indicators": {},
    "position": None,
    "params": {},
}


def wrap(body: str) -> str:
    """`body` as the inside of strategy()."""
    lines = "\n".join(f"    {line}" for line in body.strip("\n").splitlines())
    return f"def strategy(bars, indicators, position, params):\n{lines}\n"


REVIEW = "stopped at review"
RUNTIME = "contained at run time"

# (id, code, where it is stopped, and — for run-time cases — the failure kind expected)
CORPUS = [
    # dunder walks
    (
        "subclasses-walk",
        wrap("return str(().__class__.__bases__[0].__subclasses__())"),
        REVIEW,
        None,
    ),
    ("globals-of-function", wrap("return str(strategy.__globals__)"), REVIEW, None),
    ("builtins-dict", wrap('return __builtins__["open"]("/etc/passwd").read()'), REVIEW, None),
    ("code-object", wrap("return str(strategy.__code__.co_consts)"), REVIEW, None),
    ("dict-of-math", wrap("return str(math.__dict__)"), REVIEW, None),
    ("mro-walk", wrap("return str(int.mro())"), REVIEW, None),
    (
        "dunder-in-fstring",
        wrap('return {"signal": "HOLD", "reason": f"{strategy.__globals__}"}'),
        REVIEW,
        None,
    ),
    # str.format attribute leaks
    ("format-attribute-leak", wrap('return "{0.__class__.__mro__}".format(1)'), REVIEW, None),
    ("format-map-leak", wrap('return "{a.__globals__}".format_map({"a": strategy})'), REVIEW, None),
    ("format-builtin", wrap('return format(1, "x")'), REVIEW, None),
    # generators and frames
    (
        "generator-gi-frame",
        wrap("g = (x for x in [1])\nreturn str(g.gi_frame.f_globals)"),
        REVIEW,
        None,
    ),
    (
        "frame-f-back",
        wrap("g = (x for x in [1])\nreturn str(g.gi_frame.f_back.f_back)"),
        REVIEW,
        None,
    ),
    ("yield-function", "def gen():\n    yield 1\n" + wrap("return 'HOLD'"), REVIEW, None),
    ("async-function", "async def f():\n    return 1\n" + wrap("return 'HOLD'"), REVIEW, None),
    # guard-hook shadowing through positional-only parameters (CVE-2026-55830)
    (
        "cve-2026-55830-getattr",
        "def peek(o, _getattr_=lambda o, n: 1, /):\n    return o.real\n" + wrap("return 'HOLD'"),
        REVIEW,
        None,
    ),
    (
        "cve-2026-55830-getitem",
        "def peek(d, _getitem_=lambda d, k: 1, /):\n    return d['x']\n" + wrap("return 'HOLD'"),
        REVIEW,
        None,
    ),
    (
        "cve-2026-55830-write",
        "def poke(l, _write_=lambda o: o, /):\n    l.x = 1\n" + wrap("return 'HOLD'"),
        REVIEW,
        None,
    ),
    (
        "cve-2026-55830-print",
        "def grab(_print_=None, /):\n    print(1)\n" + wrap("return 'HOLD'"),
        REVIEW,
        None,
    ),
    ("lambda-shadow-getattr", wrap("f = lambda _getattr_=1: 0\nreturn 'HOLD'"), REVIEW, None),
    # poisoning shared modules through _write_
    ("poison-math-attribute", wrap("math.sqrt = lambda x: 0\nreturn 'HOLD'"), REVIEW, None),
    ("call-write-guard", wrap("_write_(math).sqrt = 0\nreturn 'HOLD'"), REVIEW, None),
    ("setattr-builtin", wrap('setattr(math, "pi", 3)\nreturn "HOLD"'), REVIEW, None),
    # metaclasses and decorators
    ("metaclass", "class Meta(type):\n    pass\n" + wrap("return 'HOLD'"), REVIEW, None),
    (
        "class-with-metaclass",
        "class A(metaclass=type):\n    pass\n" + wrap("return 'HOLD'"),
        REVIEW,
        None,
    ),
    ("decorator", "def deco(f):\n    return f\n@deco\n" + wrap("return 'HOLD'"), REVIEW, None),
    # reflective builtins and eval
    ("getattr-builtin", wrap('return getattr(1, "__class__")'), REVIEW, None),
    ("type-builtin", wrap("return str(type(1))"), REVIEW, None),
    ("vars-builtin", wrap("return str(vars())"), REVIEW, None),
    ("globals-builtin", wrap("return str(globals())"), REVIEW, None),
    ("eval", wrap('return eval("1")'), REVIEW, None),
    ("exec", wrap('exec("x = 1")\nreturn "HOLD"'), REVIEW, None),
    (
        "swallow-guard-errors",
        wrap("try:\n    x = 1\nexcept Exception:\n    pass\nreturn 'HOLD'"),
        REVIEW,
        None,
    ),
    # files, environment, processes, network, Django, the database
    ("read-file", wrap(f'return open("{SECRET_FILE}").read()'), REVIEW, None),
    ("write-file", wrap(f'open("{SENTINEL}", "w").write("x")\nreturn "HOLD"'), REVIEW, None),
    ("with-open", wrap(f'with open("{SECRET_FILE}") as f:\n    return f.read()'), REVIEW, None),
    ("environment", "import os\n" + wrap('return os.environ["TRADECREW_CANARY"]'), REVIEW, None),
    ("dunder-import", wrap('return __import__("os").environ["TRADECREW_CANARY"]'), REVIEW, None),
    ("fork-bomb", "import os\n" + wrap("while True:\n    os.fork()"), REVIEW, None),
    (
        "subprocess",
        "import subprocess\n" + wrap('return subprocess.check_output(["id"])'),
        REVIEW,
        None,
    ),
    ("socket", "import socket\n" + wrap('socket.create_connection(("1.1.1.1", 80))'), REVIEW, None),
    (
        "django-settings",
        "from django.conf import settings\n" + wrap("return settings.SECRET_KEY"),
        REVIEW,
        None,
    ),
    (
        "database",
        "from agents.models import CustomStrategy\n"
        + wrap("return str(CustomStrategy.objects.all())"),
        REVIEW,
        None,
    ),
    ("global-statement", wrap("global PARAMS\nPARAMS = 1\nreturn 'HOLD'"), REVIEW, None),
    ("module-level-logic", "x = [0] * 10\n" + wrap("return 'HOLD'"), REVIEW, None),
    ("oversized-code", wrap("x = 1\n" * 3000 + "return 'HOLD'"), REVIEW, None),
    ("varargs", "def f(*args, **kwargs):\n    return args\n" + wrap("return 'HOLD'"), REVIEW, None),
    # run-time containment: code the review lets through, the sandbox stops
    ("infinite-loop", wrap("while True:\n    pass"), RUNTIME, "timeout"),
    ("cpu-burn", wrap("return str(sum(range(10 ** 12)))"), RUNTIME, "timeout"),
    ("huge-list", wrap("x = [0] * (10 ** 9)\nreturn 'HOLD'"), RUNTIME, "memory"),
    ("huge-string", wrap("x = 'x' * (10 ** 10)\nreturn 'HOLD'"), RUNTIME, "memory"),
    ("growing-list", wrap("x = []\nwhile True:\n    x.append([0] * 1000)"), RUNTIME, "memory"),
    ("giant-power", wrap("return str(10 ** (10 ** 9))"), RUNTIME, None),
    (
        "deep-recursion",
        "def down(n):\n    return down(n + 1)\n" + wrap("return down(0)"),
        RUNTIME,
        "error",
    ),
    ("subscript-dunder-key", wrap('return bars["__class__"]'), RUNTIME, "error"),
    ("invalid-signal", wrap("return 'MAYBE'"), RUNTIME, "invalid_output"),
    ("non-plain-output", wrap("return {'signal': 'BUY', 'reason': math}"), RUNTIME, "error"),
    (
        "oversized-reason",
        wrap("return {'signal': 'BUY', 'reason': 'x' * 100000}"),
        RUNTIME,
        "invalid_output",
    ),
    ("negative-stop", wrap("return {'signal': 'BUY', 'stop_loss': -5}"), RUNTIME, "invalid_output"),
    ("nan-output", wrap("return {'signal': 'BUY', 'stop_loss': float('nan')}"), RUNTIME, "error"),
]


@pytest.fixture(scope="module")
def pool():
    SECRET_FILE.write_text(CANARY)
    os.environ["TRADECREW_CANARY"] = CANARY
    pool = sandbox_pool()
    yield pool
    os.environ.pop("TRADECREW_CANARY", None)
    SECRET_FILE.unlink(missing_ok=True)


def test_the_corpus_has_at_least_forty_cases_with_unique_names():
    names = [case[0] for case in CORPUS]
    assert len(names) >= 40
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(("name", "code", "stopped", "kind"), CORPUS, ids=[c[0] for c in CORPUS])
def test_it_stops_or_contains_the_escape(pool, name, code, stopped, kind):
    review = static_review(code)
    if stopped == REVIEW:
        assert not review.passed, f"{name} should have been stopped at review"
        assert review.issues
    else:
        assert review.passed, f"{name} should pass review: {review.issues}"

    # The sandbox holds on its own as well: run it anyway.
    result = pool.run(code, [INPUTS], limits=LIMITS)

    seen = json.dumps([o.model_dump() for o in result.outputs]) + result.error
    assert CANARY not in seen, f"{name} leaked the canary"
    assert not SENTINEL.exists(), f"{name} wrote a file"
    if stopped == RUNTIME:
        assert not result.ok, f"{name} was not contained: {result}"
        if kind is not None:
            assert result.kind == kind, f"{name}: {result.kind}: {result.error}"
        assert result.error
    # The worker (this process) and the pool are still there and answer the next request.
    after = pool.run(GOOD, [INPUTS], limits=LIMITS)
    assert after.ok, after.error
    assert after.outputs[0].signal == "BUY"


def test_it_runs_in_a_jail_without_network_root_or_environment(pool):
    facts = pool.warm_up()
    assert facts["ready"] is True
    # Root is dropped where the worker runs as root (the container here does).
    if os.getuid() == 0:
        assert facts["dropped_root"] is True
        assert facts["uid"] != 0
    # This kernel allows a network namespace (checked on the CI machine); where it does not,
    # the sandbox still has no socket module to reach a network with.
    if Path("/proc/self/ns/net").exists() and os.getuid() == 0:
        assert facts["network_namespace"] is True
        assert facts["interfaces"] == ["lo"]  # a fresh namespace: loopback only, and it is down
    assert facts["pid"] != os.getpid()
    # A clean environment: no secret of the worker's (the canary is set in ours).
    assert set(facts["environment"]) <= {"PATH", "LC_ALL", "LC_CTYPE", "PWD"}
    assert facts["socket_module"] is False


def test_it_gives_each_run_a_fresh_interpreter(pool):
    code = "SEEN = []\n" + wrap(
        "SEEN.append(1)\nreturn {'signal': 'HOLD', 'reason': str(len(SEEN))}"
    )
    first = pool.run(code, [INPUTS], limits=LIMITS)
    second = pool.run(code, [INPUTS], limits=LIMITS)
    assert first.ok and second.ok
    # Within one call the state persists over evaluations; between calls it never does.
    assert first.outputs[0].reason == second.outputs[0].reason == "1"


def test_it_evaluates_a_batch_in_one_call(pool):
    many = [INPUTS] * 200
    result = pool.run(GOOD, many, limits=LIMITS)
    assert result.ok
    assert len(result.outputs) == 200
    assert {output.signal for output in result.outputs} == {"BUY"}


def test_a_killed_sandbox_process_is_replaced(pool):
    facts = pool.warm_up()
    os.kill(facts["pid"], 9)
    status = Path(f"/proc/{facts['pid']}/status")
    deadline = time.monotonic() + 10
    while status.exists() and "zombie" not in status.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)  # the kill is asynchronous: wait for the death, not a fixed time
    # The dead process is noticed before it is handed the request: every call is answered.
    results = [pool.run(GOOD, [INPUTS], limits=LIMITS) for _ in range(pool.size + 1)]
    assert all(result.ok for result in results), [r.error for r in results]
    assert pool.warm_up()["pid"] != facts["pid"] or pool.size > 1


def test_a_backtest_chunk_is_one_call_over_the_history(pool):
    from agents.custom.inputs import history_inputs, synthetic_frame

    frame = synthetic_frame(timeframe="5m", drift=0.001, seed=3, bars=100)
    code = 'INDICATORS = ["SMA_5"]\n' + wrap(
        "sma = indicators['sma_5'][-1]\n"
        "if sma is None:\n    return 'HOLD'\n"
        "return 'BUY' if bars['5m']['close'][-1] > sma else 'SELL'"
    )
    calls = history_inputs(frame=frame, timeframe="5m", indicators=["SMA_5"], params={}, window=20)

    result = pool.run(code, calls, limits=LIMITS)

    assert result.ok, result.error
    assert len(result.outputs) == len(calls) == 81  # bars 20..100, each with its 20-bar window
    assert all(len(call["bars"]["5m"]["close"]) == 20 for call in calls)
    closes = frame["close"].tolist()
    sma = sum(closes[-5:]) / 5
    assert result.outputs[-1].signal == ("BUY" if closes[-1] > sma else "SELL")
