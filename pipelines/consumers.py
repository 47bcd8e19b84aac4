"""Websocket consumers that forward live events to the browser (spec §7): as JSON, and as HTML
fragments for the htmx ws extension (the same row partials the pages render on load).

An event reaches a socket without leaving the event loop: who may listen is checked once, at
connect; the event goes into the socket's outbox (`pipelines.live_outbox`: bounded, a newer
state of a position replaces the one still waiting) and its sender task writes it out. Only the
HTML streams touch the database, to render a fragment, and only for events the page shows."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

from config.core.events import execution_group, user_group
from pipelines.live_outbox import Outbox
from pipelines.models import PipelineExecution

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _owns_execution(user, execution_id) -> bool:
    return PipelineExecution.objects.filter(pk=execution_id, owner=user).exists()


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """`ws/events/`: every event of the logged-in user; `ws/executions/<id>/`: one run's events."""

    outbox: Outbox | None = None

    async def __call__(self, scope, receive, send):
        """Channels' loop (`await_many_dispatch`) builds a task and a wait set per message; here
        the socket's frames and the group's events each have one long-lived loop, and a burst of
        events already in the layer's queue goes into the outbox in one go, so a newer state
        replaces an older one before anything is sent."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        events = asyncio.get_running_loop().create_task(self._dispatch_events())
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            events.cancel()
            # The layer unsubscribes the channel when its receive is cancelled.
            with contextlib.suppress(asyncio.CancelledError):
                await events
            if self.outbox is not None:
                await self.outbox.stop()

    async def _dispatch_events(self) -> None:
        while True:
            message = await self.channel_receive()
            try:
                await self.dispatch(message)
            except Exception:
                logger.exception("could not handle live event %s", message.get("type"))

    async def dispatch(self, message):
        # Channels' own dispatch hops to a thread before every handler to close stale database
        # connections: for a live event, once per event per socket. These handlers reach the
        # database only through database_sync_to_async, which closes them in its own thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        execution_id = self.scope["url_route"]["kwargs"].get("execution_id")
        if execution_id is not None:
            if not await _owns_execution(user, execution_id):
                await self.close(code=CLOSE_NOT_FOUND)
                return
            self.event_groups = [execution_group(execution_id)]
        else:
            self.event_groups = [user_group(user.pk)]
        self.outbox = Outbox(self.deliver)
        for group in self.event_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.outbox.start()

    async def disconnect(self, code):
        if self.outbox is not None:
            await self.outbox.stop()
        for group in getattr(self, "event_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The stream is one-way; a ping keeps proxies from closing an idle socket.
        if content == {"type": "ping"}:
            await self.send_json({"type": "pong"})

    async def event_message(self, message):
        if self.outbox is not None:
            self.outbox.put(message["payload"])

    async def deliver(self, payload: dict[str, Any]) -> None:
        """Send one event that waited in the outbox."""
        await self.send_json(payload)


class HtmlEventsConsumer(EventsConsumer):
    """The same streams as HTML for the htmx ws extension: every fragment carries hx-swap-oob
    and is rendered from the partial the page itself renders on load.

    `ws/executions/<id>/html/`: a run's step rows, status, trades and charts.
    `ws/events/html/?topics=positions,executions`: the bell and toasts always; position rows and
    execution rows when the page lists them."""

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.topics = {
            topic.strip()
            for value in query.get("topics", [])
            for topic in value.split(",")
            if topic.strip()
        }
        self.execution_id = self.scope["url_route"]["kwargs"].get("execution_id")
        await super().connect()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """The htmx side sends nothing we act on."""

    async def event_message(self, message):
        # Most pages show only the bell: an event they do not show costs no thread and no query.
        if self.execution_id is None and not user_page_shows(message["payload"], self.topics):
            return
        await super().event_message(message)

    async def deliver(self, payload: dict[str, Any]) -> None:
        try:
            fragments = await _render_fragments(
                self.scope["user"], payload, self.execution_id, self.topics
            )
        except Exception:
            # A fragment that cannot be rendered must not kill the socket: the page's polling
            # fallback and the next event bring it up to date.
            logger.exception("could not render live fragment for %s", payload)
            return
        for html in fragments:
            await self.send(text_data=html)


def user_page_shows(payload: dict[str, Any], topics: set[str]) -> bool:
    """Whether `views.live_user_fragments` renders anything for this event on a page listening
    to `topics` (kept beside it in meaning: the bell, position rows, execution rows, backtests)."""
    from pipelines import views

    event = payload.get("event")
    if event == "notification":
        return True
    if event == "position_updated":
        return bool(topics & {"positions", "analytics"})
    if event in views.EXECUTION_ROW_EVENTS:
        return "executions" in topics and bool(payload.get("execution_id"))
    if event == "backtest_progress":
        from pipelines.backtest.live import backtest_page_shows

        return backtest_page_shows(payload, topics)
    return False


@database_sync_to_async
def _render_fragments(user, payload: dict, execution_id, topics: set[str]) -> list[str]:
    from django.utils import timezone

    from accounts.middleware import user_timezone
    from pipelines import views

    # Pushed rows are the page's own partials: render their times in the reader's zone too.
    with timezone.override(user_timezone(user)):
        if execution_id is not None:
            return views.live_execution_fragments(
                user=user, execution_id=execution_id, payload=payload
            )
        return views.live_user_fragments(user=user, payload=payload, topics=topics)
