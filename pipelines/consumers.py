"""Websocket consumers that forward live events to the browser (spec §7): as JSON, and as HTML
fragments for the htmx ws extension (the same row partials the pages render on load)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config.events import execution_group, user_group
from pipelines.models import PipelineExecution

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _owns_execution(user, execution_id) -> bool:
    return PipelineExecution.objects.filter(pk=execution_id, owner=user).exists()


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """`ws/events/`: every event of the logged-in user; `ws/executions/<id>/`: one run's events."""

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
        for group in self.event_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "event_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The stream is one-way; a ping keeps proxies from closing an idle socket.
        if content == {"type": "ping"}:
            await self.send_json({"type": "pong"})

    async def event_message(self, message):
        await self.send_json(message["payload"])


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
        try:
            fragments = await _render_fragments(
                self.scope["user"], message["payload"], self.execution_id, self.topics
            )
        except Exception:
            # A fragment that cannot be rendered must not kill the socket: the page's polling
            # fallback and the next event bring it up to date.
            logger.exception("could not render live fragment for %s", message.get("payload"))
            return
        for html in fragments:
            await self.send(text_data=html)


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
