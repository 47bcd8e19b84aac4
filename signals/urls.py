"""Signals page routes."""

app_name = "signals"

urlpatterns: list = []
