"""Websocket routes, gathered from the apps that push live updates."""

websocket_urlpatterns: list = []
