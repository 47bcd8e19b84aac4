"""Websocket routes of the pipelines app."""

from django.urls import path

from pipelines.consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/executions/<uuid:execution_id>/", EventsConsumer.as_asgi()),
]
