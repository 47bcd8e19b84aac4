"""Template context shared by every page: the navigation, the product name and the unread
notifications count of the bell."""

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

# (label, URL name, icon): an area appears as a link once its URL exists.
NAVIGATION = [
    ("Dashboard", "dashboard", "◧"),
    ("Pipelines", "pipelines:list", "⊶"),
    ("Monitor", "pipelines:executions", "◉"),
    ("Positions", "trading:positions", "▤"),
    ("Signals", "signals:feed", "⚡"),
    ("Strategies", "agents:custom-list", "✎"),
    ("Analytics", "analytics:performance", "↗"),
    ("Billing", "billing:overview", "$"),
    ("Settings", "accounts:settings", "⚙"),
]


def _navigation(request):
    items = []
    path = request.path
    for label, url_name, icon in NAVIGATION:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            items.append({"label": label, "url": None, "icon": icon, "active": False})
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": label, "url": url, "icon": icon, "active": active})
    return items


def tradecrew(request):
    context = {"DEBUG": settings.DEBUG, "product_name": "Tradecrew"}
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        from accounts.selectors import notifications_unread_count

        context["navigation"] = _navigation(request)
        # Lazy: fragments rendered for htmx never show the bell and never pay for its count.
        context["notifications_unread"] = SimpleLazyObject(
            lambda: notifications_unread_count(user=request.user)
        )
    return context
