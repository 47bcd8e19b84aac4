"""URL routes: pages, the admin, the REST API under /api/v1/, and Prometheus metrics."""

from django.contrib import admin
from django.urls import include, path

from config import views
from config.api import api

urlpatterns = [
    path("", include("analytics.urls")),
    path("analytics/", include("analytics.performance_urls")),
    path("", include("pipelines.urls")),
    path("accounts/", include("accounts.urls")),
    path("signals/", include("signals.urls")),
    path("trading/", include("trading.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("metrics", views.metrics, name="metrics"),
]
