"""Notification channels API: list, add, change, test and remove the caller's Telegram, Discord,
Slack and webhook channels — the same services the Settings page uses (accounts.channels).

The secret a channel holds (bot token, webhook URL) is write-only: responses show its `hint`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from accounts import channels, selectors
from accounts.models import TraderEvent

channels_router = Router(tags=["notifications"])

EventName = Literal[tuple(TraderEvent.values)]  # type: ignore[valid-type]


class ChannelOut(Schema):
    id: int
    kind: str
    label: str
    hint: str = Field(..., description="What identifies the channel without its secret.")
    events: list[str]
    enabled: bool
    last_sent_at: datetime | None
    last_error: str
    failures: int
    created_at: datetime


class ChannelIn(Schema):
    kind: Literal["telegram", "discord", "slack", "webhook"]
    label: str = Field("", max_length=100)
    bot_token: str = Field("", max_length=200, description="Telegram: the bot's token.")
    chat_id: str = Field("", max_length=100, description="Telegram: a chat id or @channelname.")
    webhook_url: str = Field("", max_length=500, description="Discord, Slack or any webhook.")
    events: list[EventName] | None = Field(
        None, description="What to send; omit for fills, stops, targets, errors, budget, summary."
    )


class ChannelPatch(Schema):
    events: list[EventName] | None = None
    enabled: bool | None = None


@channels_router.get("", response=list[ChannelOut], summary="Your notification channels")
def channels_list(request: HttpRequest):
    return selectors.notification_channels_for_user(user=request.auth)


@channels_router.post("", response={201: ChannelOut}, summary="Add a notification channel")
def channels_create(request: HttpRequest, payload: ChannelIn):
    channel = channels.channel_create(
        owner=request.auth,
        kind=payload.kind,
        fields={
            "bot_token": payload.bot_token,
            "chat_id": payload.chat_id,
            "webhook_url": payload.webhook_url,
        },
        events=payload.events,
        label=payload.label,
    )
    return Status(201, channel)


@channels_router.get("/{channel_id}", response=ChannelOut, summary="One notification channel")
def channels_get(request: HttpRequest, channel_id: int):
    return selectors.notification_channel_get(user=request.auth, channel_id=channel_id)


@channels_router.patch(
    "/{channel_id}", response=ChannelOut, summary="Choose a channel's events, or pause it"
)
def channels_update(request: HttpRequest, channel_id: int, payload: ChannelPatch):
    channel = selectors.notification_channel_get(user=request.auth, channel_id=channel_id)
    return channels.channel_update(
        channel=channel,
        events=channel.events if payload.events is None else payload.events,
        enabled=channel.enabled if payload.enabled is None else payload.enabled,
    )


@channels_router.post(
    "/{channel_id}/test", response={202: ChannelOut}, summary="Queue a test message"
)
def channels_test(request: HttpRequest, channel_id: int):
    channel = selectors.notification_channel_get(user=request.auth, channel_id=channel_id)
    channels.channel_send_test(channel=channel)
    return Status(202, channel)


@channels_router.delete(
    "/{channel_id}", response={204: None}, summary="Remove a notification channel"
)
def channels_delete(request: HttpRequest, channel_id: int):
    channels.channel_delete(
        channel=selectors.notification_channel_get(user=request.auth, channel_id=channel_id)
    )
    return Status(204, None)
