"""Reading a project setting at call time, whose one default lives in config/settings.py."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def setting(name: str) -> Any:
    """The project setting `name`, read at call time (so tests can change it with
    override_settings). Its default lives in config/settings.py only: a name missing there is a
    configuration error, not a silent second default."""
    try:
        return getattr(settings, name)
    except AttributeError:
        raise ImproperlyConfigured(f"{name} is not set in config/settings.py") from None


def text_setting(name: str) -> str:
    """A text setting, stripped; an unset (None) one reads as empty."""
    value = setting(name)
    return "" if value is None else str(value).strip()


def int_setting(name: str, *, minimum: int | None = None) -> int:
    """An integer setting; ImproperlyConfigured names it when it is not one or is too small."""
    value = setting(name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def float_setting(name: str, *, minimum: float | None = None) -> float:
    """A number setting; ImproperlyConfigured names it when it is not one or is too small."""
    value = setting(name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number:g} must be at least {minimum:g}")
    return number


def names_setting(name: str) -> list[str]:
    """A list setting: a list, or a comma-separated string; blank items dropped."""
    value = setting(name)
    if isinstance(value, str):
        value = value.split(",")
    return [str(item).strip() for item in value or () if str(item).strip()]
