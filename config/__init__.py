"""Project configuration: settings, URLs, ASGI routing, Celery."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
