"""Account page routes."""

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("signup/", views.signup_view, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("settings/", views.settings_view, name="settings"),
    path(
        "settings/tokens/<int:token_id>/revoke/", views.api_token_revoke_view, name="token-revoke"
    ),
]
