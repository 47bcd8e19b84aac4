"""Trading page routes: positions (with emergency closes), one position, the trade history."""

from django.urls import path

from trading import views

app_name = "trading"

urlpatterns = [
    path("positions/", views.positions, name="positions"),
    path("positions/close-all/", views.positions_close_all, name="positions-close-all"),
    path("positions/<int:position_id>/", views.position_detail, name="position"),
    path("positions/<int:position_id>/close/", views.position_close, name="position-close"),
    path("trades/", views.trades, name="trades"),
]
