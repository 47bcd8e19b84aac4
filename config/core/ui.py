"""View helpers every app's pages share (core: imports no app): the confirmation a dangerous
action asks for when it arrives unconfirmed."""

from __future__ import annotations

from django.shortcuts import render

CONFIRMED_VALUES = {"yes", "on", "true", "1"}


def is_confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get("confirmed", "") in CONFIRMED_VALUES


def confirmation_page(
    request,
    *,
    title: str,
    message: str,
    button: str,
    cancel_url: str,
    consequences: list[str] | tuple[str, ...] = (),
    check: str = "",
    status: int = 200,
):
    """The page a dangerous action shows when it arrives unconfirmed: without JavaScript (or
    from a bookmarked link) the trader reads what will happen and confirms it here. Pages with
    JavaScript ask the same in a dialog and post `confirmed=yes` directly."""
    carried = []
    if request.method == "POST":
        carried = [
            (key, value)
            for key, values in request.POST.lists()
            if key not in ("csrfmiddlewaretoken", "confirmed")
            for value in values
        ]
    context = {
        "title": title,
        "message": message,
        "button": button,
        "cancel_url": cancel_url,
        "consequences": consequences,
        "check": check,
        "carried": carried,
        "action": request.path,
    }
    return render(request, "confirm.html", context, status=status)
