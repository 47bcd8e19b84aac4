"""Pages of custom strategies ("My strategies")."""

from django.urls import path

from agents import views

app_name = "agents"

urlpatterns = [
    path("", views.custom_list, name="custom-list"),
    path("new/", views.custom_new, name="custom-new"),
    path("<uuid:strategy_id>/", views.custom_detail, name="custom-detail"),
    path("<uuid:strategy_id>/edit/", views.custom_edit, name="custom-edit"),
    path("<uuid:strategy_id>/submit/", views.custom_submit, name="custom-submit"),
    path("<uuid:strategy_id>/archive/", views.custom_archive, name="custom-archive"),
]
