"""A trade that closes updates the Analytics page over the existing websocket."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(path: str, cookie: bytes):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def _position(owner, status):
    from decimal import Decimal

    from trading.models import Position

    return Position.objects.create(
        owner=owner,
        trading_mode="SIMULATION",
        symbol="AAPL",
        side="long",
        quantity=5,
        average_price=Decimal("50"),
        status=status,
        opened_at=timezone.now(),
    )


def test_it_signals_the_page_when_a_trade_closes(client, owner):
    from trading.services import _position_event

    client.force_login(owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    still_open = _position(owner, "open")
    closed = _position(owner, "closed")

    async def scenario():
        communicator = await _connect("/ws/events/html/?topics=analytics", cookie)
        await sync_to_async(_position_event)(still_open)  # a price tick: nothing to redraw
        await sync_to_async(_position_event)(closed)
        message = await communicator.receive_from(timeout=5)
        nothing_else = await communicator.receive_nothing(timeout=0.2)
        await communicator.disconnect()
        return message, nothing_else

    message, nothing_else = async_to_sync(scenario)()
    assert message.startswith('<div id="analytics-signal" hx-swap-oob="true"')
    assert f'data-closed="{closed.pk}"' in message
    assert nothing_else


def test_the_page_listens_for_analytics_events(owner_client):
    from django.urls import reverse

    html = owner_client.get(reverse("analytics:performance")).content.decode()
    assert 'ws-connect="/ws/events/html/?topics=analytics"' in html
    assert 'id="analytics-signal"' in html
    assert 'data-poll="#analytics-live"' in html
