"""Trading page routes."""

app_name = "trading"

urlpatterns: list = []
