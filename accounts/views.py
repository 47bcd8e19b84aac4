"""Account pages: sign-up, log-in, log-out, settings (profile, budgets, API tokens, broker
connections), notifications; and the confirmation page every dangerous action falls back to."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import (
    APITokenForm,
    BrokerConnectionForm,
    LoginForm,
    ProfileForm,
    SignupForm,
)
from accounts.hooks import settings_context
from config.core.throttling import window_admit
from config.core.ui import confirmation_page, is_confirmed


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _add_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def login_view(request):
    if request.user.is_authenticated:
        return redirect(_safe_next(request, reverse("dashboard")))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_authenticate(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except services.AccountLockedOut as error:
            return render(request, "accounts/locked_out.html", {"message": str(error)}, status=403)
        except services.InvalidCredentials:
            form.add_error(None, "That e-mail and password do not match an account.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_safe_next(request, reverse("dashboard")))
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request, "")})


SIGNUP_ATTEMPTS_PER_HOUR = 20


def signup_attempt_admitted(request) -> bool:
    admitted, _ = window_admit(
        key=f"signup:{request.META.get('REMOTE_ADDR')}",
        limit=SIGNUP_ATTEMPTS_PER_HOUR,
        window_seconds=3600,
    )
    return admitted


def signup_view(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and not signup_attempt_admitted(request):
        # Sign-up says when an e-mail is taken (the account is usable at once, with no e-mail
        # confirmation step to hide behind); this limit keeps that from being a lookup service.
        form.add_error(None, "Too many sign-up attempts from your address; try again in an hour.")
        return render(request, "accounts/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Tradecrew. Your account is ready.")
            return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("accounts:login")


@login_required
def password_change_done_view(request):
    """Django's change view keeps the session logged in; back to Settings with a note."""
    messages.success(
        request, "Password changed. Browsers signed in with the old password are logged out."
    )
    return redirect(reverse("accounts:settings") + "#password")


@login_required
def settings_view(request):
    profile_form = ProfileForm(instance=request.user)
    token_form = APITokenForm()
    broker_form = BrokerConnectionForm()
    new_token = None
    if request.method == "POST" and request.POST.get("form") == "profile":
        profile_form = ProfileForm(request.POST, instance=request.user)
        if profile_form.is_valid():
            data = profile_form.cleaned_data
            try:
                services.user_update_profile(
                    user=request.user,
                    full_name=data["full_name"],
                    timezone_name=data["timezone"],
                    budget_limit_daily=data["budget_limit_daily"],
                    budget_limit_monthly=data["budget_limit_monthly"],
                )
            except ValidationError as error:
                request.user.refresh_from_db()
                _add_errors(profile_form, error)
            else:
                messages.success(request, "Profile saved.")
                return redirect("accounts:settings")
    elif request.method == "POST" and request.POST.get("form") == "token":
        token_form = APITokenForm(request.POST)
        if token_form.is_valid():
            _, new_token = services.api_token_create(
                user=request.user, name=token_form.cleaned_data["name"]
            )
            token_form = APITokenForm()
    elif request.method == "POST" and request.POST.get("form") == "broker":
        broker_form = BrokerConnectionForm(request.POST)
        if broker_form.is_valid():
            data = broker_form.cleaned_data
            try:
                connection = services.broker_connection_create(
                    owner=request.user,
                    account_type=data["account_type"],
                    api_key=data["api_key"],
                    api_secret=data["api_secret"],
                    label=data["label"],
                )
            except ValidationError as error:
                _add_errors(broker_form, error)
            else:
                messages.success(
                    request,
                    f"Alpaca {connection.get_account_type_display().lower()} connection saved "
                    f"(key …{connection.key_last4}). Verify it to check that the keys work.",
                )
                return redirect(reverse("accounts:settings") + "#brokers")
    context = {
        "profile_form": profile_form,
        "token_form": token_form,
        "broker_form": broker_form,
        "new_token": new_token,
        "tokens": selectors.api_tokens_for_user(user=request.user),
        "broker_connections": selectors.broker_connections_for_user(user=request.user),
        **settings_context(user=request.user),
        **_channels_context(request.user),
    }
    return render(request, "accounts/settings.html", context)


@login_required
@require_POST
def api_token_revoke_view(request, token_id: int):
    try:
        token = selectors.api_token_get(user=request.user, token_id=token_id)
    except Exception:
        messages.error(request, "That token does not exist or is already revoked.")
        return redirect("accounts:settings")
    services.api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked; requests using it now get 401.")
    return redirect("accounts:settings")


def _owned_connection(request, connection_id: int):
    from django.http import Http404

    from accounts.models import BrokerConnection

    try:
        return selectors.broker_connection_get(user=request.user, connection_id=connection_id)
    except BrokerConnection.DoesNotExist:
        raise Http404("No such broker connection.") from None


@login_required
@require_POST
def broker_connection_verify_view(request, connection_id: int):
    from accounts.brokers import BrokerUnreachable

    connection = _owned_connection(request, connection_id)
    try:
        services.broker_connection_verify(connection=connection)
    except BrokerUnreachable as error:
        messages.warning(request, f"The broker could not be reached. {error}")
        return redirect(reverse("accounts:settings") + "#brokers")
    if connection.is_verified:
        equity = f", equity ${connection.account_equity:,.2f}" if connection.account_equity else ""
        messages.success(
            request, f"Verified: Alpaca account {connection.account_number or ''}{equity}."
        )
    else:
        messages.error(request, f"Alpaca refused the keys: {connection.last_error}")
    return redirect(reverse("accounts:settings") + "#brokers")


@login_required
@require_POST
def broker_connection_remove_view(request, connection_id: int):
    from django.db.models import ProtectedError

    connection = _owned_connection(request, connection_id)
    settings_url = reverse("accounts:settings") + "#brokers"
    if not is_confirmed(request):
        return confirmation_page(
            request,
            title=f"Remove the {connection}?",
            message="The stored keys are deleted. Pipelines can no longer trade through this "
            "account until you add it again.",
            button="Remove the connection",
            cancel_url=settings_url,
        )
    try:
        services.broker_connection_delete(connection=connection)
    except ProtectedError as error:
        names = ", ".join(sorted({f"“{p.name}”" for p in error.protected_objects}))
        messages.error(
            request,
            f"Pipelines still trade through this account ({names}); switch them to another "
            "mode first.",
        )
    else:
        messages.success(request, f"Removed the {connection}.")
    return redirect(settings_url)


@login_required
def notifications_view(request):
    data = selectors.notifications_for_user(user=request.user, limit=50)
    unread_ids = [n.pk for n in data["items"] if n.read_at is None]
    context = {
        "notifications": data["items"],
        "unread": data["unread"],
        "unread_ids": ",".join(str(pk) for pk in unread_ids),
    }
    return render(request, "accounts/notifications.html", context)


@login_required
@require_POST
def notifications_read_view(request):
    """Mark notifications read: the ones listed in `ids`, or all of them."""
    raw = request.POST.get("ids", "")
    ids = [int(part) for part in raw.split(",") if part.strip().isdigit()] if raw else None
    services.notifications_mark_read(owner=request.user, notification_ids=ids)
    unread = selectors.notifications_unread_count(user=request.user)
    if request.htmx:
        return render(request, "partials/bell.html", {"unread": unread, "oob": True})
    messages.success(request, "All notifications are marked read.")
    return redirect("accounts:notifications")


# --- Notification channels (Telegram, Discord, Slack, webhooks) -------------------------------


def _owned_channel(request, channel_id: int):
    from django.http import Http404

    from accounts.models import NotificationChannel

    try:
        return selectors.notification_channel_get(user=request.user, channel_id=channel_id)
    except NotificationChannel.DoesNotExist:
        raise Http404("No such notification channel.") from None


def _channels_url() -> str:
    return reverse("accounts:settings") + "#channels"


@login_required
def channel_add_view(request):
    """The add form; on Settings it posts here, and errors are shown on this page."""
    from accounts import channels
    from accounts.forms import NotificationChannelForm

    form = NotificationChannelForm(request.POST or None, prefix="channel")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel = channels.channel_create(
                owner=request.user,
                kind=data["kind"],
                fields={key: data[key] for key in ("bot_token", "chat_id", "webhook_url")},
                events=data["events"],
                label=data["label"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                f"{channel.get_kind_display()} channel added ({channel.hint}). Send a test "
                "message to check that it arrives.",
            )
            return redirect(_channels_url())
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/channel_add.html", {"form": form}, status=status)


@login_required
@require_POST
def channel_update_view(request, channel_id: int):
    from accounts import channels
    from accounts.forms import ChannelEventsForm

    channel = _owned_channel(request, channel_id)
    form = ChannelEventsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose events from the list.")
        return redirect(_channels_url())
    channels.channel_update(
        channel=channel, events=form.cleaned_data["events"], enabled=form.cleaned_data["enabled"]
    )
    messages.success(request, f"Saved what {channel} sends you.")
    return redirect(_channels_url())


@login_required
@require_POST
def channel_test_view(request, channel_id: int):
    from accounts import channels

    channel = _owned_channel(request, channel_id)
    channels.channel_send_test(channel=channel)
    messages.info(
        request,
        f"Test message queued for {channel}. It should arrive within seconds; if it does not, "
        "the channel shows the service's error here.",
    )
    return redirect(_channels_url())


@login_required
@require_POST
def channel_remove_view(request, channel_id: int):
    from accounts import channels

    channel = _owned_channel(request, channel_id)
    if not is_confirmed(request):
        return confirmation_page(
            request,
            title=f"Remove {channel}?",
            message="You will no longer get Tradecrew messages there.",
            button="Remove the channel",
            cancel_url=_channels_url(),
        )
    channels.channel_delete(channel=channel)
    messages.success(request, f"Removed {channel}.")
    return redirect(_channels_url())


def _channels_context(user) -> dict:
    from accounts.forms import NotificationChannelForm
    from accounts.models import TraderEvent

    return {
        "channels": selectors.notification_channels_for_user(user=user),
        "channel_form": NotificationChannelForm(prefix="channel"),
        "trader_events": TraderEvent.choices,
    }
