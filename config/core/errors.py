"""Domain errors shared by every app, mapped to HTTP statuses by the API (config/api.py)."""


class Conflict(Exception):
    """The request is valid but clashes with the current state (answered with 409)."""


class UpgradeRequired(Exception):
    """The user's plan does not include this (answered with 402 and where to upgrade)."""

    upgrade_url = "/billing/"
