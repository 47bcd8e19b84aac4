"""Analytics page routes: the dashboard."""

from django.urls import path

from analytics import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
