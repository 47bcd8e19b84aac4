"""Websocket routes of the pipelines app: JSON streams, and the same streams as HTML fragments."""

from django.urls import path

from pipelines.consumers import EventsConsumer, HtmlEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/executions/<uuid:execution_id>/", EventsConsumer.as_asgi()),
    path("ws/events/html/", HtmlEventsConsumer.as_asgi()),
    path("ws/executions/<uuid:execution_id>/html/", HtmlEventsConsumer.as_asgi()),
]
