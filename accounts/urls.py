"""Account page routes: log-in, sign-up, password change and reset, settings (tokens, broker
connections), notifications."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("signup/", views.signup_view, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("settings/", views.settings_view, name="settings"),
    # Password change and reset are Django's own views, in the app's layout.
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("accounts:password-change-done"),
        ),
        name="password-change",
    ),
    path("password/change/done/", views.password_change_done_view, name="password-change-done"),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            success_url=reverse_lazy("accounts:password-reset-done"),
        ),
        name="password-reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password-reset-done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password-reset-complete"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
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
