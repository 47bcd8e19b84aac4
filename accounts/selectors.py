"""Account reads: API tokens of a user, the user behind a raw token; the user's zone and the
date it is for them ("today for this user", the one place that computes it)."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import APIToken, Notification, User

# A profile's zone when it names none we know: the zone every new profile starts with.
DEFAULT_USER_ZONE = zoneinfo.ZoneInfo(User._meta.get_field("timezone").default)


def user_zone(user: User) -> zoneinfo.ZoneInfo:
    """The zone of the user's profile. Profile edits accept IANA names only, so the default
    zone answers only for a row written around them (the admin, an old import)."""
    try:
        return zoneinfo.ZoneInfo(user.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return DEFAULT_USER_ZONE


def user_today(user: User, *, at: datetime | None = None) -> date:
    """The date it is for the user at `at` (default: now) in their profile's zone — whatever zone
    the process has active (a request's, a Celery worker's UTC)."""
    return (at or timezone.now()).astimezone(user_zone(user)).date()


def api_tokens_for_user(*, user: User) -> QuerySet[APIToken]:
    return APIToken.objects.active().filter(user=user)


def api_token_get(*, user: User, token_id: int) -> APIToken:
    """One of the user's own active tokens; another user's token is DoesNotExist (404)."""
    return api_tokens_for_user(user=user).get(pk=token_id)


def api_token_lookup(*, raw_token: str) -> APIToken | None:
    if not raw_token.startswith(APIToken.PREFIX):
        return None
    return (
        APIToken.objects.active()
        .select_related("user")
        .filter(token_hash=APIToken.hash_token(raw_token), user__is_active=True)
        .first()
    )


def notifications_for_user(*, user: User, unread_only: bool = False, limit: int = 30) -> dict:
    notifications = Notification.objects.filter(owner=user)
    unread = notifications.filter(read_at__isnull=True)
    items = unread if unread_only else notifications
    return {"unread": unread.count(), "items": list(items[:limit])}


def notifications_unread_count(*, user: User) -> int:
    return Notification.objects.filter(owner=user, read_at__isnull=True).count()


def broker_connections_for_user(*, user: User):
    from accounts.models import BrokerConnection

    return BrokerConnection.objects.filter(owner=user).order_by("account_type")


def broker_connection_get(*, user: User, connection_id: int):
    """One of the user's broker connections; another user's is DoesNotExist (404)."""
    return broker_connections_for_user(user=user).get(pk=connection_id)


def notification_channels_for_user(*, user: User):
    from accounts.models import NotificationChannel

    return NotificationChannel.objects.filter(owner=user).order_by("created_at")


def notification_channel_get(*, user: User, channel_id: int):
    """One of the user's channels; another user's is DoesNotExist (404)."""
    return notification_channels_for_user(user=user).get(pk=channel_id)
