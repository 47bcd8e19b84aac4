"""Websocket fan-out benchmark: 1,000 logged-in sockets on daphne, one live event per second each.

A daphne process serves `config.asgi` on BENCH_WS_PORT (8870); a client process opens SOCKETS
websockets to `/ws/events/` with a session cookie each (one user per socket, logged in the way
the pages are: Django's session cookie), and this process publishes `position_updated` events
through the project's own publish path (`config.core.events.event_build` + `events_send`: the
after-commit publisher thread and its batched PUBLISH script). Every payload carries the time it
was emitted and a sequence number, so the client measures delivery latency and checks that the
last update of every position arrived.

Phases: 1 event per socket per second on one daphne process; 10x that rate on one process
(superseded position states merge — at the publisher, at most one per LIVE_STATE_INTERVAL_MS,
and in each socket's outbox — so the queue stays bounded: sampled from the process's
`websocket_outbox_queued` gauge and Redis' output buffer for the pub/sub subscribers; and the
latest state arrives); then 1 event per socket per second on two daphne processes sharing one
listening socket (`daphne --fd`), the way web scales on one host. Latency is from `event_build`
in this process to the client's receipt, so it includes any time a state was held back.

Before this change (same machine, 2026-12-02, load 7.5): 1,000 sockets at 1 event/s: p50 407 ms,
p95 1,279 ms; at 10x: p50 20 s, p95 38 s, 100% of events sent, Redis holding 10 MiB for the web
process, the latest state 40 s late; two processes at 1/s: p50 110 ms, p95 1,693 ms.
After (load 10): 1/s: p50 65 ms, p95 230 ms; 10x: 9% of the events sent (the rest merged),
Redis holding at most 144 KiB, every socket's latest state 1.1 s after the last publish; two
processes at 1/s: p50 146 ms, p95 936 ms (two daphnes, the clients and this process on 2 busy
cores: no gain to show here; each process scales its own sockets on a core of its own).

Run with `make bench` or `uv run python bench/bench_websockets.py [sockets] [seconds]`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import multiprocessing
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager

from common import ROOT, percentile, setup_django

PORT = int(os.environ.get("BENCH_WS_PORT", "8870"))
SLICES_PER_SECOND = 20  # events are spread over the second in 50 ms slices


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- Users and sessions -------------------------------------------------------------------------


def _users_with_sessions(count: int) -> list[tuple[int, str]]:
    """`count` active users and a fresh logged-in session for each: (user id, session key)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    from accounts.models import User, UserStatus

    emails = [f"bench-ws-{n}@tradecrew.local" for n in range(count)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    fresh = []
    for email in emails:
        if email not in existing:
            user = User(email=email, full_name="Bench socket", status=UserStatus.ACTIVE)
            user.set_unusable_password()
            fresh.append(user)
    User.objects.bulk_create(fresh, batch_size=500)
    users = list(User.objects.filter(email__in=emails).order_by("pk"))
    store = SessionStore()
    sessions = []
    pairs = []
    for user in users:
        key = store._get_new_session_key()
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(
            Session(
                session_key=key,
                session_data=store.encode(data),
                expire_date=store.get_expiry_date(),
            )
        )
        pairs.append((user.pk, key))
    Session.objects.bulk_create(sessions, batch_size=500)
    return pairs


# --- daphne -------------------------------------------------------------------------------------


def _wait_for_port(port: int, processes: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("daphne exited before it listened")
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=5):
                return
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP answer: it listens
                return
            time.sleep(0.3)
    raise RuntimeError(f"daphne did not listen on {port} within {timeout} s")


@contextmanager
def daphne(processes: int):
    """`processes` daphne processes serving one address: a listening socket they all accept on."""
    listener = socket.create_server(("127.0.0.1", PORT), backlog=2048)
    listener.set_inheritable(True)
    command = [sys.executable, "-m", "daphne", "--fd", str(listener.fileno())]
    command += ["--proxy-headers", "config.asgi:application"]
    # Plain HTTP on loopback: no redirect to HTTPS for the readiness probe and /metrics.
    env = {**os.environ, "LOG_LEVEL": "WARNING", "DJANGO_SECURE_SSL_REDIRECT": "false"}
    started = [
        subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, pass_fds=(listener.fileno(),), stdout=subprocess.DEVNULL
        )
        for _ in range(processes)
    ]
    try:
        _wait_for_port(PORT, started)
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        listener.close()


def _outbox_queued(token: str) -> float | None:
    """The `websocket_outbox_queued` gauge of the daphne process that answers (None: no gauge)."""
    request = urllib.request.Request(
        f"http://localhost:{PORT}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    except OSError:
        return None
    match = re.search(r"^websocket_outbox_queued\s+([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _subscriber_output_buffer() -> int:
    """Bytes Redis holds for the pub/sub subscribers (the backlog a slow web process leaves)."""
    import redis
    from django.conf import settings

    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    client = redis.Redis.from_url(host)
    total = 0
    for entry in client.client_list(_type="pubsub"):
        total += int(entry.get("omem", 0))
    client.close()
    return total


# --- The client process -------------------------------------------------------------------------


async def _client_main(port: int, sessions: list[tuple[int, str]], control) -> None:
    import websockets

    last_seq: dict[int, int] = {}
    latencies: list[float] = []
    received = 0
    closed: collections.Counter = collections.Counter()

    async def one_socket(user_id: int, session_key: str, ready: asyncio.Event):
        nonlocal received
        headers = {"Cookie": f"sessionid={session_key}", "Origin": f"http://localhost:{port}"}
        try:
            async with websockets.connect(
                f"ws://localhost:{port}/ws/events/",
                additional_headers=headers,
                max_queue=None,
                open_timeout=120,
                ping_interval=None,
            ) as connection:
                ready.set()
                async for text in connection:
                    now = time.time()
                    payload = json.loads(text)
                    # Redis pub/sub channels are not per database: skip what a test run beside
                    # the benchmark publishes to the same user ids.
                    if payload.get("event") != "position_updated" or "sent_at" not in payload:
                        continue
                    received += 1
                    latencies.append(now - payload["sent_at"])
                    last_seq[user_id] = payload["position"]["seq"]
        except Exception as error:
            closed[f"{type(error).__name__}: {error}"[:120]] += 1
            raise
        closed["closed by the server"] += 1

    tasks = []
    for start in range(0, len(sessions), 50):  # connect in waves, as pages load
        events = []
        for user_id, key in sessions[start : start + 50]:
            ready = asyncio.Event()
            events.append(ready)
            tasks.append(asyncio.create_task(one_socket(user_id, key, ready)))
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in events)), 180)
    loop = asyncio.get_running_loop()
    control.send(("connected", len(tasks)))
    while True:
        command = await loop.run_in_executor(None, control.recv)
        if command[0] == "stop":
            break
        _, final_seq, settle_seconds = command
        # Wait until every socket has heard its position's last update, or the time is up.
        deadline = time.monotonic() + settle_seconds
        started = time.monotonic()
        while time.monotonic() < deadline:
            if all(last_seq.get(user_id) == final_seq for user_id, _ in sessions):
                break
            await asyncio.sleep(0.05)
        settled = sum(1 for user_id, _ in sessions if last_seq.get(user_id) == final_seq)
        failed = dict(closed)
        control.send((latencies[:], received, settled, time.monotonic() - started, failed))
        latencies.clear()
        received = 0
    for task in tasks:
        task.cancel()


def _client_process(port: int, sessions: list[tuple[int, str]], control) -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_client_main(port, sessions, control))


# --- Publishing ---------------------------------------------------------------------------------


def publish(user_ids: list[int], *, per_second: int, seconds: float, first_seq: int) -> int:
    """Emit `per_second` position updates per user per second for `seconds`; the last seq."""
    from config.core.events import event_build, events_send

    seq = first_seq
    slices = int(seconds * SLICES_PER_SECOND)
    slice_seconds = 1 / SLICES_PER_SECOND
    started = time.monotonic()
    # Each user gets `per_second` updates per second: spread them evenly over the slices.
    per_slice = len(user_ids) * per_second / SLICES_PER_SECOND
    cursor = 0.0
    sent = 0
    for number in range(slices):
        cursor += per_slice
        batch = []
        while sent < int(cursor):
            user_id = user_ids[sent % len(user_ids)]
            if sent % len(user_ids) == 0:
                seq += 1
            batch.append(
                event_build(
                    event="position_updated",
                    owner_id=user_id,
                    position={"id": user_id, "seq": seq, "unrealized_pnl": f"{seq}.25"},
                    sent_at=time.time(),
                )
            )
            sent += 1
        events_send(batch)
        pause = started + (number + 1) * slice_seconds - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    # The last round: every position gets its final state, so "the latest arrives" is checkable.
    seq += 1
    events_send(
        [
            event_build(
                event="position_updated",
                owner_id=user_id,
                position={"id": user_id, "seq": seq, "unrealized_pnl": f"{seq}.25"},
                sent_at=time.time(),
            )
            for user_id in user_ids
        ]
    )
    return seq


def run_phase(control, user_ids, *, label: str, per_second: int, seconds: float, seq: int):
    from config.core import events

    token = os.environ["METRICS_BEARER_TOKEN"]
    samples: list[float] = []
    buffers: list[int] = []
    stop = threading.Event()

    def sample():
        while not stop.wait(1.0):
            queued = _outbox_queued(token)
            if queued is not None:
                samples.append(queued)
            buffers.append(_subscriber_output_buffer())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    final_seq = publish(user_ids, per_second=per_second, seconds=seconds, first_seq=seq)
    events.flush(30)
    published_seconds = time.monotonic() - started
    control.send(("settle", final_seq, 60.0))
    latencies, received, settled, settle_seconds, failed = control.recv()
    stop.set()
    sampler.join()
    emitted = len(user_ids) * (final_seq - seq)
    values = [latency * 1000 for latency in latencies] or [float("nan")]
    print(
        f"{label}: {emitted} events in {published_seconds:.1f} s "
        f"({emitted / published_seconds:.0f}/s), {received} delivered "
        f"({received / max(emitted, 1):.0%}; the rest coalesced); delivery p50 "
        f"{percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms, "
        f"p99 {percentile(values, 99):.0f} ms, max {max(values):.0f} ms; [{load()}]",
        flush=True,
    )
    outbox = f"max {max(samples):.0f} queued" if samples else "no gauge (before this change)"
    print(
        f"  latest state arrived on {settled}/{len(user_ids)} sockets "
        f"{settle_seconds:.1f} s after the last publish; sockets closed: {failed or 'none'}; "
        f"outbox {outbox}; Redis subscriber buffer max {max(buffers or [0]) / 1024:.0f} KiB",
        flush=True,
    )
    return final_seq


def main() -> None:
    sockets = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    os.environ.setdefault("METRICS_BEARER_TOKEN", secrets.token_urlsafe(16))
    setup_django()
    sessions = _users_with_sessions(sockets)
    user_ids = [user_id for user_id, _ in sessions]
    context = multiprocessing.get_context("spawn")
    seq = 0
    for processes, phases in (
        (1, [(1, seconds), (10, seconds / 2)]),
        (2, [(1, seconds)]),
    ):
        with daphne(processes):
            control, child_end = context.Pipe()
            client = context.Process(target=_client_process, args=(PORT, sessions, child_end))
            client.start()
            _, connected = control.recv()
            print(
                f"{connected} sockets connected to {processes} daphne process(es) [{load()}]",
                flush=True,
            )
            for per_second, phase_seconds in phases:
                seq = run_phase(
                    control,
                    user_ids,
                    label=f"{processes} process(es), {per_second} event/s per socket",
                    per_second=per_second,
                    seconds=phase_seconds,
                    seq=seq,
                )
            control.send(("stop",))
            client.join(30)
            if client.is_alive():
                client.terminate()


if __name__ == "__main__":
    main()
