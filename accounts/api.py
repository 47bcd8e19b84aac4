"""Accounts API: JWT pair/refresh/verify, personal API tokens, the caller's profile."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja_jwt.exceptions import TokenError
from ninja_jwt.tokens import RefreshToken, UntypedToken

from accounts import selectors, services
from config.core.throttling import AnonThrottle

auth_router = Router(tags=["auth"])
me_router = Router(tags=["profile"])

_auth_throttle = [AnonThrottle(settings.API_AUTH_THROTTLE_RATE, scope="auth_endpoints")]


class TokenPairIn(Schema):
    email: str = Field(..., max_length=254)
    password: str = Field(..., max_length=4096)


class TokenPairOut(Schema):
    access: str
    refresh: str


class RefreshIn(Schema):
    refresh: str = Field(..., max_length=4096)


class RefreshOut(Schema):
    access: str
    refresh: str


class VerifyIn(Schema):
    token: str = Field(..., max_length=4096)


class Detail(Schema):
    detail: str


@auth_router.post(
    "/token/pair",
    response={200: TokenPairOut, 401: Detail, 403: Detail},
    auth=None,
    throttle=_auth_throttle,
    summary="Obtain a JWT access and refresh token with e-mail and password",
)
def token_pair(request: HttpRequest, payload: TokenPairIn):
    user = services.user_authenticate(
        request=request, email=payload.email, password=payload.password
    )
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@auth_router.post(
    "/token/refresh",
    response={200: RefreshOut, 401: Detail},
    auth=None,
    throttle=_auth_throttle,
    summary="Exchange a refresh token for a new access token (the refresh token is rotated)",
)
def token_refresh(request: HttpRequest, payload: RefreshIn):
    access, refresh = services.jwt_refresh_rotate(raw_refresh=payload.refresh)
    return {"access": access, "refresh": refresh}


@auth_router.post(
    "/token/verify",
    response={200: dict, 401: Detail},
    auth=None,
    throttle=_auth_throttle,
    summary="Check that a token is valid and unexpired",
)
def token_verify(request: HttpRequest, payload: VerifyIn):
    try:
        UntypedToken(payload.token)
    except TokenError:
        raise HttpError(401, "The token is invalid or expired.") from None
    return {}


class APITokenOut(Schema):
    id: int
    name: str
    display_prefix: str
    created_at: datetime
    last_used_at: datetime | None


class APITokenCreatedOut(APITokenOut):
    token: str = Field(..., description="The token itself. Shown once; store it now.")


class APITokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)


@auth_router.get("/api-tokens", response=list[APITokenOut], summary="List your active API tokens")
def api_tokens_list(request: HttpRequest):
    return selectors.api_tokens_for_user(user=request.auth)


@auth_router.post(
    "/api-tokens", response={201: APITokenCreatedOut}, summary="Create an API token (shown once)"
)
def api_tokens_create(request: HttpRequest, payload: APITokenIn):
    token, raw_token = services.api_token_create(user=request.auth, name=payload.name)
    return Status(201, {**APITokenOut.from_orm(token).dict(), "token": raw_token})


@auth_router.delete(
    "/api-tokens/{token_id}", response={204: None}, summary="Revoke one of your API tokens"
)
def api_tokens_revoke(request: HttpRequest, token_id: int):
    services.api_token_revoke(token=selectors.api_token_get(user=request.auth, token_id=token_id))
    return Status(204, None)


class ProfileOut(Schema):
    id: int
    email: str
    full_name: str
    subscription_tier: str
    status: str
    timezone: str
    budget_limit_daily: Decimal | None
    budget_limit_monthly: Decimal | None
    date_joined: datetime
    last_login: datetime | None


class ProfilePatch(Schema):
    full_name: str | None = Field(None, max_length=255)
    timezone: str | None = Field(None, max_length=64)
    budget_limit_daily: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)
    budget_limit_monthly: Decimal | None = Field(None, ge=0, max_digits=10, decimal_places=2)


@me_router.get("", response=ProfileOut, summary="Your profile")
def me_get(request: HttpRequest):
    return request.auth


@me_router.patch("", response=ProfileOut, summary="Change your name, time zone or budgets")
def me_patch(request: HttpRequest, payload: ProfilePatch):
    changes = payload.dict(exclude_unset=True)
    if "timezone" in changes:
        changes["timezone_name"] = changes.pop("timezone")
        if changes["timezone_name"] is None:
            raise HttpError(422, "timezone cannot be empty")
    if changes.get("full_name", "") is None:
        changes["full_name"] = ""
    return services.user_update_profile(user=request.auth, **changes)


notifications_router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    level: str
    title: str
    message: str
    link: str
    read_at: datetime | None
    created_at: datetime


class NotificationsOut(Schema):
    unread: int
    items: list[NotificationOut]


class MarkReadIn(Schema):
    ids: list[int] | None = Field(None, description="Omit to mark every notification read.")


@notifications_router.get("", response=NotificationsOut, summary="Your latest notifications")
def notifications_list(request: HttpRequest, unread_only: bool = False):
    return selectors.notifications_for_user(user=request.auth, unread_only=unread_only)


@notifications_router.post("/read", response=NotificationsOut, summary="Mark notifications read")
def notifications_read(request: HttpRequest, payload: MarkReadIn):
    services.notifications_mark_read(owner=request.auth, notification_ids=payload.ids)
    return selectors.notifications_for_user(user=request.auth)
