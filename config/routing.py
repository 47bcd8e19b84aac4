"""Websocket routes, gathered from the apps that push live updates."""

from pipelines.routing import websocket_urlpatterns as pipeline_routes

websocket_urlpatterns = [*pipeline_routes]
