"""Account writes: sign-up, profile changes, log-in with lockout, API tokens."""

from __future__ import annotations

import secrets
import zoneinfo
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import APIToken, BrokerConnection, BrokerStatus, Notification, User

_UNSET = object()


class InvalidCredentials(Exception):
    """E-mail and password do not match an active account."""


class InvalidRefreshToken(Exception):
    """A refresh token that is malformed, expired, already used or for an inactive account."""


class AccountLockedOut(Exception):
    """Too many failed log-ins for this account; it is locked for the cool-off period."""

    def __init__(self, cooloff: timedelta):
        minutes = max(1, int(cooloff.total_seconds() // 60))
        super().__init__(
            f"This account is locked after too many failed log-in attempts. "
            f"Try again in {minutes} minutes."
        )


@transaction.atomic
def user_create(*, email: str, password: str, full_name: str = "", **fields) -> User:
    email = (email or "").strip().lower()
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": "An account with this e-mail address already exists."})
    from django.conf import settings

    # New accounts start with the documented default budgets (README: $10 a day, $200 a month).
    fields.setdefault("budget_limit_daily", settings.DEFAULT_DAILY_BUDGET)
    fields.setdefault("budget_limit_monthly", settings.DEFAULT_MONTHLY_BUDGET)
    candidate = User(email=email, full_name=full_name.strip(), **fields)
    candidate.full_clean(exclude=["password"])
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    candidate.set_password(password)
    candidate.save()
    return candidate


def _validate_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"timezone": f"{name!r} is not an IANA time zone."}) from None
    return name


def _validate_budget(field: str, value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value < 0:
        raise ValidationError({field: "A budget is a positive amount in USD, or empty for none."})
    return value.quantize(Decimal("0.01"))


@transaction.atomic
def user_update_profile(
    *,
    user: User,
    full_name: str | object = _UNSET,
    timezone_name: str | object = _UNSET,
    budget_limit_daily: Decimal | object | None = _UNSET,
    budget_limit_monthly: Decimal | object | None = _UNSET,
) -> User:
    changed: list[str] = []
    if full_name is not _UNSET:
        user.full_name = str(full_name).strip()[:255]
        changed.append("full_name")
    if timezone_name is not _UNSET:
        user.timezone = _validate_timezone(str(timezone_name))
        changed.append("timezone")
    if budget_limit_daily is not _UNSET:
        user.budget_limit_daily = _validate_budget("budget_limit_daily", budget_limit_daily)
        changed.append("budget_limit_daily")
    if budget_limit_monthly is not _UNSET:
        user.budget_limit_monthly = _validate_budget("budget_limit_monthly", budget_limit_monthly)
        changed.append("budget_limit_monthly")
    if (
        user.budget_limit_daily is not None
        and user.budget_limit_monthly is not None
        and user.budget_limit_daily > user.budget_limit_monthly
    ):
        raise ValidationError(
            {"budget_limit_daily": "The daily budget cannot exceed the monthly budget."}
        )
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    return user


def user_authenticate(*, request: HttpRequest, email: str, password: str) -> User:
    """Check credentials through django-axes, which counts failures and locks the account."""
    from django.conf import settings

    user = authenticate(request, email=(email or "").strip().lower(), password=password)
    if getattr(request, "axes_locked_out", False):
        raise AccountLockedOut(settings.AXES_COOLOFF_TIME)
    if user is None or not user.is_active:
        raise InvalidCredentials("No active account matches this e-mail address and password.")
    return user


def api_token_create(*, user: User, name: str) -> tuple[APIToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. 'TradingView webhook'."})
    if len(name) > 100:
        raise ValidationError({"name": "At most 100 characters."})
    raw_token = APIToken.PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user,
        name=name,
        token_hash=APIToken.hash_token(raw_token),
        display_prefix=raw_token[:10],
    )
    return token, raw_token


def api_token_revoke(*, token: APIToken) -> APIToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_touch(*, token: APIToken) -> None:
    """Record use, at most once a minute, so a busy script does not write on every request."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)


def jwt_refresh_rotate(*, raw_refresh: str) -> tuple[str, str]:
    """Trade a refresh token for a new access token and a new refresh token, once.

    The old refresh token is blacklisted in the same transaction; a second use of it (a replay,
    or two tabs refreshing at once) fails on the blacklist's unique constraint.
    """
    from django.db import IntegrityError
    from ninja_jwt.exceptions import TokenError
    from ninja_jwt.settings import api_settings as jwt_settings
    from ninja_jwt.token_blacklist.models import BlacklistedToken, OutstandingToken
    from ninja_jwt.tokens import RefreshToken
    from ninja_jwt.utils import datetime_from_epoch

    try:
        refresh = RefreshToken(raw_refresh)
    except TokenError:
        raise InvalidRefreshToken(
            "The refresh token is invalid, expired or already used."
        ) from None
    user = User.objects.filter(pk=refresh.payload.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise InvalidRefreshToken("The account behind this token is no longer active.")
    try:
        with transaction.atomic():
            outstanding, _ = OutstandingToken.objects.get_or_create(
                jti=refresh.payload[jwt_settings.JTI_CLAIM],
                defaults={
                    "user": user,
                    "token": raw_refresh,
                    "expires_at": datetime_from_epoch(refresh.payload["exp"]),
                },
            )
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        raise InvalidRefreshToken(
            "The refresh token is invalid, expired or already used."
        ) from None
    new_refresh = RefreshToken.for_user(user)
    return str(new_refresh.access_token), str(new_refresh)


@transaction.atomic
def broker_connection_create(
    *, owner: User, account_type: str, api_key: str, api_secret: str, label: str = ""
) -> BrokerConnection:
    api_key, api_secret = (api_key or "").strip(), (api_secret or "").strip()
    errors = {}
    if account_type not in ("paper", "live"):
        errors["account_type"] = "paper or live."
    if len(api_key) < 8:
        errors["api_key"] = "Paste the API key ID from your Alpaca dashboard."
    if len(api_secret) < 8:
        errors["api_secret"] = "Paste the API secret key from your Alpaca dashboard."  # noqa: S105
    if errors:
        raise ValidationError(errors)
    if BrokerConnection.objects.filter(
        owner=owner, broker="alpaca", account_type=account_type
    ).exists():
        raise ValidationError(
            {
                "account_type": (
                    f"You already have an Alpaca {account_type} connection; remove it first."
                )
            }
        )
    return BrokerConnection.objects.create(
        owner=owner,
        broker="alpaca",
        account_type=account_type,
        label=label.strip()[:100],
        api_key=api_key,
        api_secret=api_secret,
        key_last4=api_key[-4:],
    )


def broker_connection_verify(*, connection: BrokerConnection) -> BrokerConnection:
    """Ask the broker for the account; record whether the keys work.

    Raises BrokerUnreachable when the broker could not be asked: the keys' status is left as it
    was (unknown for keys never verified), with the reason in `last_error`."""
    from accounts.brokers import BrokerRejected, BrokerUnreachable, alpaca_account

    try:
        info = alpaca_account(
            api_key=connection.api_key,
            api_secret=connection.api_secret,
            account_type=connection.account_type,
        )
    except BrokerUnreachable as error:
        connection.last_error = str(error)
        connection.save(update_fields=["last_error", "updated_at"])
        raise
    except BrokerRejected as error:
        connection.status = BrokerStatus.FAILED
        connection.last_error = str(error)
    else:
        connection.status = BrokerStatus.VERIFIED
        connection.verified_at = timezone.now()
        connection.last_error = ""
        connection.account_number = info.account_number
        connection.account_equity = info.equity
    connection.save(
        update_fields=[
            "status",
            "verified_at",
            "last_error",
            "account_number",
            "account_equity",
            "updated_at",
        ]
    )
    return connection


def broker_connection_delete(*, connection: BrokerConnection) -> None:
    connection.delete()


def broker_secrets_rotate() -> int:
    """Re-encrypt every stored broker secret under the first FIELD_ENCRYPTION_KEYS key: the
    ORM reads each secret (its field decrypts with whichever key wrote it) and writes it back
    (the field encrypts under the first key), the rows locked until it commits."""
    with transaction.atomic():
        connections = list(
            BrokerConnection.objects.select_for_update().only("id", "api_key", "api_secret")
        )
        BrokerConnection.objects.bulk_update(connections, ["api_key", "api_secret"], batch_size=500)
    return len(connections)


def notify(
    *,
    owner: User,
    title: str,
    message: str = "",
    level: str = "info",
    link: str = "",
    kind: str = "",
) -> Notification:
    """Tell a user something: an in-app notification, pushed live, and e-mailed when an e-mail
    backend is configured."""
    from django.conf import settings
    from django.core.mail import send_mail

    from config.core.events import event_emit

    notification = Notification.objects.create(
        owner=owner, title=title[:200], message=message, level=level, link=link, kind=kind
    )
    event_emit(
        event="notification",
        owner_id=owner.pk,
        notification_id=notification.pk,
        level=level,
        title=notification.title,
        message=message,
        link=link,
    )
    if settings.EMAIL_ENABLED:

        def _send():
            sent = send_mail(
                f"[Tradecrew] {notification.title}",
                f"{message}\n\n{link}".strip(),
                settings.DEFAULT_FROM_EMAIL,
                [owner.email],
                fail_silently=True,
            )
            if sent:
                Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())

        transaction.on_commit(_send)
    return notification


def notifications_mark_read(*, owner: User, notification_ids: list[int] | None = None) -> int:
    unread = Notification.objects.filter(owner=owner, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    return unread.update(read_at=timezone.now())
