"""API authentication: the browser session, or `Authorization: Bearer` with a JWT or API token."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth
from ninja_jwt.authentication import JWTBaseAuthentication
from ninja_jwt.exceptions import AuthenticationFailed, InvalidToken

from accounts.selectors import api_token_lookup
from accounts.services import api_token_touch
from accounts.token_users import token_user

_jwt = JWTBaseAuthentication()  # stateless: its settings and user model


class BearerAuth(HttpBearer):
    """Accepts a personal API token (`tc_…`) or a JWT access token, wherever either is sent."""

    openapi_description = (
        "A JWT access token from /api/v1/auth/token/pair, or a personal API token."
    )

    def authenticate(self, request: HttpRequest, token: str):
        api_token = api_token_lookup(raw_token=token)
        if api_token is not None:
            api_token_touch(token=api_token)
            request.api_token = api_token
            request.user = api_token.user
            return api_token.user
        try:
            user = token_user(jwt=_jwt, validated_token=_jwt.get_validated_token(token))
        except (InvalidToken, AuthenticationFailed):
            return None
        if not user.is_active:
            return None
        request.user = user
        return user


session_auth = SessionAuth()
bearer_auth = BearerAuth()
# Bearer first: a request without an Authorization header passes it by, and the browser's session
# (which checks CSRF on unsafe methods) is tried next. The other way round, the session check
# refused every script's POST for want of a CSRF token before its token was looked at.
api_auth = [bearer_auth, session_auth]
