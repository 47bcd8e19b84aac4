"""Per-request time zone: every time a signed-in person reads is in their profile's zone."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone


class UserTimezoneMiddleware:
    """Activate the user's profile zone (Django then renders every datetime in templates and
    forms in it); anonymous requests and unknown zone names fall back to UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with timezone.override(user_timezone(getattr(request, "user", None))):
            return self.get_response(request)


def user_timezone(user) -> zoneinfo.ZoneInfo | None:
    """The signed-in user's zone; None (the default zone, UTC) otherwise."""
    if user is None or not user.is_authenticated:
        return None
    try:
        return zoneinfo.ZoneInfo(user.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
