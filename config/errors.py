"""Domain errors shared by every app, mapped to HTTP statuses by the API (config/api.py)."""


class Conflict(Exception):
    """The request is valid but clashes with the current state (answered with 409)."""
