"""The one response a locked-out client gets (django-axes calls this; see AXES_LOCKOUT_CALLABLE)."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from accounts.services import AccountLockedOut


def lockout_response(request, original_response=None, credentials=None):
    message = str(AccountLockedOut(settings.AXES_COOLOFF_TIME))
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=403)
    return render(request, "accounts/locked_out.html", {"message": message}, status=403)
