"""Websocket consumers that forward live events to the browser (spec §7)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config.events import execution_group, user_group
from pipelines.models import PipelineExecution

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
