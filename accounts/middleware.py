"""Per-request time zone: every time a signed-in person reads is in their profile's zone."""

from __future__ import annotations

import zoneinfo

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils import timezone

from accounts.selectors import user_zone


class UserTimezoneMiddleware:
    """Activate the user's profile zone (Django then renders every datetime in templates and
    forms in it); anonymous requests get UTC.

    Async-capable like the rest of the stack, so it adds no thread hop under daphne; the zone
    lives in asgiref's context-local storage and follows the request into sync views."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        with timezone.override(user_timezone(getattr(request, "user", None))):
            return self.get_response(request)

    async def __acall__(self, request):
        # auser() loads the user without blocking; reading its zone touches no database.
        user = await request.auser() if hasattr(request, "auser") else request.user
        with timezone.override(user_timezone(user)):
            return await self.get_response(request)


def user_timezone(user) -> zoneinfo.ZoneInfo | None:
    """The signed-in user's zone (accounts.selectors.user_zone); None (the default zone, UTC)
    for an anonymous request."""
    if user is None or not user.is_authenticated:
        return None
    return user_zone(user)
