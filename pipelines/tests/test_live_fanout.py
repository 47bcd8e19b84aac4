"""Live fan-out: events reach their owner's sockets through the real Redis channel layer, a
burst of updates to one position ends with its latest state, and a socket's outbox stays bounded."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from prometheus_client import REGISTRY

from config.asgi import application
from config.core.events import event_build, event_emit, events_send
from pipelines.consumers import user_page_shows
from pipelines.live_outbox import Outbox

pytestmark = pytest.mark.django_db(transaction=True)


def _cookie(user) -> bytes:
    """The session cookie a logged-in page opens its socket with."""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(path: str, cookie: bytes) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def _queued() -> float:
    return REGISTRY.get_sample_value("websocket_outbox_queued")


def _position_update(owner_id, position_id: int, seq: int):
    return event_build(
        event="position_updated",
        owner_id=owner_id,
        position={"id": position_id, "seq": seq, "unrealized_pnl": f"{seq}.50"},
    )


def test_it_delivers_an_event_to_its_owner_only(client, owner, outsider):
    owner_cookie = _cookie(owner)
    outsider_cookie = _cookie(outsider)

    async def scenario():
        mine = await _connect("/ws/events/", owner_cookie)
        theirs = await _connect("/ws/events/", outsider_cookie)
        await sync_to_async(event_emit)(
            event="notification", owner_id=owner.pk, title="Stop hit", message="AAPL"
        )
        await sync_to_async(event_emit)(
            event="notification", owner_id=outsider.pk, title="Yours", message="MSFT"
        )
        received_mine = await mine.receive_json_from(timeout=5)
        # The outsider's first event is its own: the owner's was never routed to it.
        received_theirs = await theirs.receive_json_from(timeout=5)
        nothing_else = await mine.receive_nothing(timeout=0.2)
        await mine.disconnect()
        await theirs.disconnect()
        return received_mine, received_theirs, nothing_else

    received_mine, received_theirs, nothing_else = async_to_sync(scenario)()
    assert (received_mine["event"], received_mine["title"]) == ("notification", "Stop hit")
    assert (received_theirs["event"], received_theirs["title"]) == ("notification", "Yours")
    assert nothing_else


def test_it_ends_a_burst_of_position_updates_with_the_latest_state(client, owner):
    cookie = _cookie(owner)
    burst = 300

    async def scenario():
        communicator = await _connect("/ws/events/", cookie)
        batch = [_position_update(owner.pk, 7, seq) for seq in range(1, burst + 1)]
        batch.append(event_build(event="notification", owner_id=owner.pk, title="after the burst"))
        await sync_to_async(events_send)(batch)
        received = []
        # The notification is not a state and goes at once; the position's latest state may
        # follow it by up to LIVE_STATE_INTERVAL_MS.
        while not any(m.get("position", {}).get("seq") == burst for m in received):
            received.append(await communicator.receive_json_from(timeout=10))
        await communicator.disconnect()
        return received

    received = async_to_sync(scenario)()
    seqs = [
        message["position"]["seq"] for message in received if message["event"] == "position_updated"
    ]
    assert seqs[-1] == burst
    assert seqs == sorted(set(seqs))  # in order, never an older state after a newer one
    assert len(seqs) < burst  # superseded states were merged away
    assert [m["title"] for m in received if m["event"] == "notification"] == ["after the burst"]


def test_it_keeps_a_slow_sockets_outbox_bounded_and_sends_the_latest_state():
    async def scenario():
        delivered = []
        socket_free = asyncio.Event()

        async def slow_socket(payload):
            await socket_free.wait()
            delivered.append(payload)

        outbox = Outbox(slow_socket, limit=20, state_limit=5)
        outbox.start()
        depths = []
        await asyncio.sleep(0)
        for seq in range(1, 1001):
            for position_id in range(1, 4):  # three positions, a thousand ticks each
                outbox.put(
                    {"event": "position_updated", "position": {"id": position_id, "seq": seq}}
                )
            if seq % 10 == 0:
                outbox.put({"event": "trade_executed", "trade": {"seq": seq}})
            depths.append(len(outbox))
            await asyncio.sleep(0)
        socket_free.set()
        while len(outbox):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        await outbox.stop()
        return delivered, depths

    delivered, depths = async_to_sync(scenario)()
    # The sender holds one event while the socket is busy; at most 20 trades and 3 states wait.
    assert max(depths) <= 23
    latest = {}
    for payload in delivered:
        if payload["event"] == "position_updated":
            latest[payload["position"]["id"]] = payload["position"]["seq"]
    assert latest == {1: 1000, 2: 1000, 3: 1000}
    trades = [
        payload["trade"]["seq"] for payload in delivered if payload["event"] == "trade_executed"
    ]
    # The oldest trades went when more than 20 waited; the newest 20 all arrived, in order.
    assert trades[-20:] == list(range(810, 1001, 10))
    # The one the sender held, the three latest states, the twenty newest trades.
    assert len(delivered) == 24


def test_it_forgets_what_waits_when_the_socket_closes():
    async def scenario():
        never = asyncio.Event()

        async def stuck_socket(payload):
            await never.wait()

        before = _queued()
        outbox = Outbox(stuck_socket, limit=10)
        outbox.start()
        for seq in range(50):
            outbox.put({"event": "agent_started", "agent_id": f"n{seq}"})
        waiting = _queued() - before
        await outbox.stop()
        return waiting, _queued() - before

    waiting, after_close = async_to_sync(scenario)()
    assert waiting == 10
    assert after_close == 0


def test_it_sends_no_fragment_for_an_event_the_page_does_not_show(client, owner, day_trading):
    """The consumer skips, without a thread or a query, exactly the events for which the page's
    own fragment renderer would render nothing."""
    from decimal import Decimal

    from django.utils import timezone

    from pipelines import services, views
    from trading.models import Position

    position = Position.objects.create(
        owner=owner,
        trading_mode="SIMULATION",
        symbol="AAPL",
        side="long",
        quantity=5,
        average_price=Decimal("50"),
        status="open",
        opened_at=timezone.now(),
    )
    execution = services.execution_start(pipeline=day_trading, enqueue=False)
    payloads = [
        event_build(event="position_updated", owner_id=owner.pk, position={"id": position.pk})[1],
        event_build(event="execution_completed", owner_id=owner.pk, execution_id=execution.pk)[1],
        event_build(event="agent_started", owner_id=owner.pk, execution_id=execution.pk)[1],
        event_build(event="trade_executed", owner_id=owner.pk, execution_id=execution.pk)[1],
        event_build(event="notification", owner_id=owner.pk, title="Filled")[1],
    ]
    shown = 0
    for topics in [set(), {"positions"}, {"executions"}, {"analytics"}, {"backtest:1"}]:
        for payload in payloads:
            fragments = views.live_user_fragments(user=owner, payload=payload, topics=topics)
            if not user_page_shows(payload, topics):
                assert fragments == [], (payload["event"], topics)
            else:
                shown += 1
    assert shown >= 5  # the bell everywhere, and each list page's own rows

    cookie = _cookie(owner)

    async def scenario():
        communicator = await _connect("/ws/events/html/?topics=", cookie)  # the bell only
        await sync_to_async(events_send)(
            [
                _position_update(owner.pk, position.pk, 1),
                event_build(event="notification", owner_id=owner.pk, title="Filled", message="ok"),
            ]
        )
        first = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return first

    assert 'id="notif-bell"' in async_to_sync(scenario)()


def test_it_merges_position_states_while_the_process_is_behind():
    """A web process whose event loop runs late sends a socket only the latest state of each
    position, once the burst has piled up, instead of every tick."""
    import time

    from pipelines.live_outbox import BEHIND_SECONDS, loop_lag

    async def scenario():
        delivered = []

        async def socket(payload):
            delivered.append(payload["position"]["seq"])

        outbox = Outbox(socket)
        outbox.start()
        for _ in range(10):  # the loop stalls, as when a process cannot keep up
            time.sleep(0.3)
            await asyncio.sleep(0)
        behind = loop_lag.seconds
        for seq in range(1, 101):
            outbox.put({"event": "position_updated", "position": {"id": 1, "seq": seq}})
            await asyncio.sleep(0)
        while len(outbox) or not delivered:
            await asyncio.sleep(0.05)
        await outbox.stop()
        return behind, delivered

    behind, delivered = async_to_sync(scenario)()
    assert behind > BEHIND_SECONDS
    assert delivered == [100]


def test_it_sends_the_first_state_at_once_and_only_the_latest_within_the_interval():
    from config.core.live_throttle import StateThrottle

    throttle = StateThrottle(1.0)
    groups = ["user.1"]

    def tick(position_id, seq):
        return (groups, {"event": "position_updated", "position": {"id": position_id, "seq": seq}})

    trade = (groups, {"event": "trade_executed", "trade": {"symbol": "AAPL"}})
    first = throttle.admit([tick(1, 1), tick(2, 1)], now=100.0)
    within = throttle.admit([tick(1, 2), trade, tick(1, 3), tick(1, 4)], now=100.4)
    assert [payload["position"]["seq"] for _, payload in first] == [1, 1]
    assert within == [trade]  # the trade is not a state: it goes at once
    assert throttle.holding and throttle.next_due() == 101.0
    assert throttle.due(100.9) == []
    released = throttle.due(101.0)
    assert [(p["position"]["id"], p["position"]["seq"]) for _, p in released] == [(1, 4)]
    assert not throttle.holding
    # Another trader's position of the same id is another key; a quiet position goes at once.
    assert len(throttle.admit([(["user.2"], tick(1, 9)[1]), tick(2, 2)], now=102.5)) == 2


def test_it_drops_a_held_state_that_a_sweeps_list_supersedes():
    from config.core.live_throttle import StateThrottle

    throttle = StateThrottle(1.0)
    groups = ["user.1"]

    def tick(position_id, seq):
        return (groups, {"event": "position_updated", "position": {"id": position_id, "seq": seq}})

    throttle.admit([tick(1, 1), tick(2, 1)], now=100.0)
    assert throttle.admit([tick(1, 2), tick(2, 2)], now=100.3) == []
    sweep = (
        groups,
        {"event": "position_updated", "positions": [{"id": 1, "seq": 3}]},
    )
    assert throttle.admit([sweep], now=100.5) == [sweep]
    # Position 1's held state (seq 2) is older than the sweep's: it never goes out; 2's does.
    released = throttle.due(101.0)
    assert [(p["position"]["id"], p["position"]["seq"]) for _, p in released] == [(2, 2)]
    # And the sweep counts as position 1's latest send: a tick right after it waits.
    assert throttle.admit([tick(1, 4)], now=101.2) == []


def test_it_delivers_the_latest_of_a_burst_through_the_publisher(client, owner):
    """The real publish path: a burst of ticks of one position reaches the socket as its first
    and its latest state, and `flush` waits for the held one."""
    from config.core import events

    cookie = _cookie(owner)

    async def scenario():
        communicator = await _connect("/ws/events/", cookie)
        await sync_to_async(events_send)([_position_update(owner.pk, 11, seq) for seq in (1, 2)])
        for seq in range(3, 51):
            await sync_to_async(events_send)([_position_update(owner.pk, 11, seq)])
        assert await sync_to_async(events.flush)(10)
        received = []
        while not received or received[-1]["position"]["seq"] != 50:
            received.append(await communicator.receive_json_from(timeout=10))
        await communicator.disconnect()
        return [message["position"]["seq"] for message in received]

    seqs = async_to_sync(scenario)()
    assert seqs[0] == 1 and seqs[-1] == 50
    assert len(seqs) < 50 and seqs == sorted(seqs)
