"""Account page routes: log-in, sign-up, settings (tokens, broker connections), notifications."""

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
    path(
        "settings/brokers/<int:connection_id>/verify/",
        views.broker_connection_verify_view,
        name="broker-verify",
    ),
    path(
        "settings/brokers/<int:connection_id>/remove/",
        views.broker_connection_remove_view,
        name="broker-remove",
    ),
    path("settings/channels/add/", views.channel_add_view, name="channel-add"),
    path("settings/channels/<int:channel_id>/", views.channel_update_view, name="channel-update"),
    path("settings/channels/<int:channel_id>/test/", views.channel_test_view, name="channel-test"),
    path(
        "settings/channels/<int:channel_id>/remove/",
        views.channel_remove_view,
        name="channel-remove",
    ),
    path("notifications/", views.notifications_view, name="notifications"),
    path("notifications/read/", views.notifications_read_view, name="notifications-read"),
]
