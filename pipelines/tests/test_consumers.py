"""Websocket consumers: only the owner hears a run's events; anonymous sockets are closed."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from config.asgi import application
from config.core.events import event_emit
from pipelines import services

pytestmark = pytest.mark.django_db(transaction=True)


def _session_cookie(client, user) -> bytes:
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(path: str, cookie: bytes | None):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


def test_the_owner_receives_a_runs_events(client, owner, day_trading):
    execution = services.execution_start(pipeline=day_trading, enqueue=False)
    cookie = _session_cookie(client, owner)

    async def scenario():
        communicator, connected, _ = await _connect(f"/ws/executions/{execution.pk}/", cookie)
        assert connected
        from asgiref.sync import sync_to_async

        await sync_to_async(event_emit)(
            event="agent_started", owner_id=owner.pk, execution_id=execution.pk, agent_id="n1"
        )
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message["event"] == "agent_started"
    assert message["agent_id"] == "n1"


def test_another_user_cannot_subscribe_to_my_run(client, outsider, day_trading):
    execution = services.execution_start(pipeline=day_trading, enqueue=False)
    cookie = _session_cookie(client, outsider)

    async def scenario():
        _, connected, code = await _connect(f"/ws/executions/{execution.pk}/", cookie)
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert not connected
    assert code == 4404


def test_an_anonymous_socket_is_closed():
    async def scenario():
        _, connected, code = await _connect("/ws/events/", None)
        return connected, code

    assert async_to_sync(scenario)() == (False, 4401)
