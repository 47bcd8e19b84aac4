"""Notification channels (Telegram, Discord, Slack, any webhook) through Apprise: adding one,
choosing its events, and delivering to it from a Celery task, never from a trading run.

A channel is stored as the Apprise URL its form builds (it carries the bot or webhook token, so
it is encrypted like broker keys). Delivery is `channels_notify` → after commit, one
`accounts.channel_deliver` task per channel on the default queue → `channel_deliver`, which
raises `DeliveryFailed` for the task to retry with backoff. A run only pays for the enqueue.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import apprise
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import ChannelKind, NotificationChannel, TraderEvent, User

logger = logging.getLogger(__name__)

DEFAULT_EVENTS = [
    TraderEvent.FILLS,
    TraderEvent.STOPS,
    TraderEvent.TARGETS,
    TraderEvent.ERRORS,
    TraderEvent.BUDGET,
    TraderEvent.DAILY_SUMMARY,
]
MAX_CHANNELS_PER_USER = 10

_TELEGRAM_TOKEN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{20,}$")
_TELEGRAM_CHAT = re.compile(r"^(-?\d{3,}|@[A-Za-z][A-Za-z0-9_]{4,})$")
_DISCORD_WEBHOOK = re.compile(
    r"^https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/(\d{10,})/([A-Za-z0-9_-]{20,})/?$"
)
_SLACK_WEBHOOK = re.compile(
    r"^https://hooks\.slack\.com/services/([A-Z0-9]{6,})/([A-Z0-9]{6,})/([A-Za-z0-9]{10,})/?$"
)


class DeliveryFailed(Exception):
    """The channel's service did not take the message (worth retrying later)."""


def apprise_target(*, kind: str, fields: dict[str, str]) -> tuple[str, str]:
    """The Apprise URL and the page's hint for a channel's form fields; ValidationError names
    the field that is wrong."""
    if kind == ChannelKind.TELEGRAM:
        token = fields.get("bot_token", "").strip()
        chat = fields.get("chat_id", "").strip()
        if not _TELEGRAM_TOKEN.match(token):
            raise ValidationError(
                {"bot_token": "A bot token looks like 123456789:AAH… (from @BotFather)."}
            )
        if not _TELEGRAM_CHAT.match(chat):
            raise ValidationError(
                {"chat_id": "A chat id is a number (e.g. -1001234567890) or @channelname."}
            )
        return f"tgram://{token}/{chat}/", f"chat {chat}"
    if kind in (ChannelKind.DISCORD, ChannelKind.SLACK):
        url = fields.get("webhook_url", "").strip()
        pattern = _DISCORD_WEBHOOK if kind == ChannelKind.DISCORD else _SLACK_WEBHOOK
        match = pattern.match(url)
        if not match:
            example = (
                "https://discord.com/api/webhooks/<id>/<token>"
                if kind == ChannelKind.DISCORD
                else "https://hooks.slack.com/services/T…/B…/…"
            )
            raise ValidationError({"webhook_url": f"Paste the webhook URL ({example})."})
        parts = match.groups()
        return f"{kind}://{'/'.join(parts)}/", f"webhook …{parts[-1][-4:]}"
    if kind == ChannelKind.WEBHOOK:
        url = fields.get("webhook_url", "").strip()
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValidationError({"webhook_url": "Enter an http:// or https:// URL."})
        if parsed.query or parsed.fragment or parsed.username:
            raise ValidationError(
                {"webhook_url": "Use a URL without a query string, fragment or password."}
            )
        scheme = "jsons" if parsed.scheme == "https" else "json"
        return f"{scheme}://{parsed.netloc}{parsed.path or '/'}", parsed.hostname
    raise ValidationError({"kind": f"Unknown channel kind {kind!r}."})


def _events(events) -> list[str]:
    chosen = [str(event) for event in (events or [])]
    unknown = sorted(set(chosen) - set(TraderEvent.values))
    if unknown:
        raise ValidationError({"events": f"Unknown events: {', '.join(unknown)}."})
    return [event for event in TraderEvent.values if event in chosen]


@transaction.atomic
def channel_create(
    *, owner: User, kind: str, fields: dict[str, str], events=None, label: str = ""
) -> NotificationChannel:
    target, hint = apprise_target(kind=kind, fields=fields)
    if apprise.Apprise.instantiate(target) is None:
        raise ValidationError({"kind": "Apprise does not accept this channel's settings."})
    # Lock the owner's row so two concurrent adds cannot both pass the limit.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    if NotificationChannel.objects.filter(owner=owner).count() >= MAX_CHANNELS_PER_USER:
        raise ValidationError({"kind": f"At most {MAX_CHANNELS_PER_USER} channels per account."})
    return NotificationChannel.objects.create(
        owner=owner,
        kind=kind,
        label=label.strip()[:100],
        target=target,
        hint=hint,
        events=_events(DEFAULT_EVENTS if events is None else events),
    )


def channel_update(*, channel: NotificationChannel, events, enabled: bool) -> NotificationChannel:
    channel.events = _events(events)
    channel.enabled = enabled
    channel.save(update_fields=["events", "enabled"])
    return channel


def channel_delete(*, channel: NotificationChannel) -> None:
    channel.delete()


def channels_notify(*, owner_id, event: str, title: str, body: str) -> int:
    """Send to each of the owner's enabled channels that chose `event`, after commit, by Celery;
    returns how many deliveries were queued."""
    channel_ids = list(
        NotificationChannel.objects.filter(
            owner_id=owner_id, enabled=True, events__contains=[event]
        ).values_list("pk", flat=True)
    )
    for channel_id in channel_ids:
        _enqueue(channel_id, title, body)
    return len(channel_ids)


def _daily_summary_due(session):
    return NotificationChannel.objects.filter(
        Q(summary_sent_on__isnull=True) | Q(summary_sent_on__lt=session),
        enabled=True,
        events__contains=[TraderEvent.DAILY_SUMMARY],
    )


def daily_summary_owner_ids(*, session) -> list:
    """Owners with an enabled channel that chose the daily summary and lacks `session`'s."""
    return sorted(set(_daily_summary_due(session).values_list("owner_id", flat=True)))


def daily_summary_claim(*, owner_id, session) -> bool:
    """Mark `owner_id`'s daily-summary channels as sent for `session`; False when another beat
    (or sweep) claimed them first, so a summary is never sent twice."""
    return bool(
        _daily_summary_due(session).filter(owner_id=owner_id).update(summary_sent_on=session)
    )


def channel_send_test(*, channel: NotificationChannel) -> None:
    _enqueue(
        channel.pk,
        "Tradecrew test message",
        f"This {channel.get_kind_display()} channel will receive your Tradecrew notifications.",
    )


def _enqueue(channel_id: int, title: str, body: str) -> None:
    from accounts.tasks import channel_deliver_task

    transaction.on_commit(lambda: channel_deliver_task.delay(channel_id, title[:250], body[:3500]))


def channel_deliver(*, channel_id: int, title: str, body: str) -> bool:
    """One delivery attempt; False when the channel is gone or switched off meanwhile."""
    channel = NotificationChannel.objects.filter(pk=channel_id, enabled=True).first()
    if channel is None:
        return False
    with apprise.LogCapture(level=logging.WARNING) as captured:
        sent = _apprise_send(channel.target, title=title, body=body)
    if not sent:
        reason = (captured.getvalue().strip().splitlines() or ["the service refused it"])[-1]
        NotificationChannel.objects.filter(pk=channel.pk).update(
            failures=F("failures") + 1, last_error=reason[:500]
        )
        raise DeliveryFailed(f"{channel}: {reason}")
    NotificationChannel.objects.filter(pk=channel.pk).update(
        last_sent_at=timezone.now(), last_error=""
    )
    return True


def _apprise_send(target: str, *, title: str, body: str) -> bool:
    _point_apprise_at_configured_apis()
    notifier = apprise.Apprise()
    if not notifier.add(target):
        return False
    return bool(notifier.notify(title=title, body=body))


def _point_apprise_at_configured_apis() -> None:
    """NOTIFY_*_API_URL: a self-hosted Telegram Bot API server, an egress proxy, or a loopback
    fake in tests. Apprise's plugins keep their service's address in a class attribute."""
    from apprise.plugins.discord import NotifyDiscord
    from apprise.plugins.slack import NotifySlack
    from apprise.plugins.telegram import NotifyTelegram

    telegram = settings.NOTIFY_TELEGRAM_API_URL.rstrip("/")
    discord = settings.NOTIFY_DISCORD_API_URL.rstrip("/")
    slack = settings.NOTIFY_SLACK_API_URL.rstrip("/")
    NotifyTelegram.notify_url = f"{telegram}/bot"
    NotifyDiscord.notify_url = f"{discord}/api/webhooks"
    NotifySlack.webhook_url = f"{slack}/services"
