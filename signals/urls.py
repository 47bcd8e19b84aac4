"""Signals page routes: the feed, scanners, and a pipeline's signal subscriptions."""

from django.urls import path

from signals import views

app_name = "signals"

urlpatterns = [
    path("", views.feed, name="feed"),
    path("scanners/", views.scanners, name="scanners"),
    path("scanners/<int:scanner_id>/", views.scanner_edit, name="scanner-edit"),
    path("scanners/<int:scanner_id>/delete/", views.scanner_delete, name="scanner-delete"),
    path("pipelines/<uuid:pipeline_id>/", views.subscriptions, name="subscriptions"),
]
