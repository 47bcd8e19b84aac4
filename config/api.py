"""The REST API root (/api/v1/): authentication, throttling, error shapes, and each app's router."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    ValidationError,
)
from django.db import DataError
from django.http import Http404, HttpRequest
from ninja import Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from accounts.api import auth_router, me_router, notifications_router
from accounts.auth import api_auth
from accounts.channels_api import channels_router
from accounts.services import AccountLockedOut, InvalidCredentials, InvalidRefreshToken
from agents.api import router as agents_router
from agents.custom.api import admin_router as custom_agents_admin_router
from agents.custom.api import router as custom_agents_router
from analytics.api import reports_router
from analytics.api import router as analytics_router
from billing.api import router as cost_router
from config import health
from config.core.errors import Conflict, UpgradeRequired
from config.core.outage import outage_response
from config.core.throttling import api_throttles
from config.openapi import DocumentedAPI, PlainDecimalRenderer
from pipelines.api import router as pipelines_router
from pipelines.backtest.api import backtests_router, datasets_router, sweeps_router
from pipelines.backtest.walkforward_api import walkforwards_router
from pipelines.cost_api import router as cost_pipelines_router
from pipelines.executions_api import executions_router, pipeline_executions_router
from pipelines.graph import InvalidGraph
from signals.api import router as signals_router
from signals.api import scanners_router
from trading.api import orders_router, positions_router, trades_router

logger = logging.getLogger(__name__)

api = DocumentedAPI(
    title="Tradecrew API",
    version="1",
    description=(
        "Compose pipelines of trading agents and run them on simulated, paper or live accounts. "
        "Authenticate with the browser session, or send `Authorization: Bearer <token>` with a "
        "JWT access token (`/api/v1/auth/token/pair`) or a personal API token."
    ),
    urls_namespace="api",
    auth=api_auth,
    throttle=api_throttles(),
    renderer=PlainDecimalRenderer(),
)


def _field_errors(error: ValidationError) -> list[dict]:
    if hasattr(error, "error_dict"):
        return [
            {
                "loc": ["body", field],
                "msg": " ".join(message for e in errors for message in e.messages),
            }
            for field, errors in error.error_dict.items()
        ]
    return [{"loc": ["body"], "msg": message} for message in error.messages]


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, error: ValidationError):
    return api.create_response(request, {"detail": _field_errors(error)}, status=422)


@api.exception_handler(NinjaValidationError)
def on_ninja_validation_error(request: HttpRequest, error: NinjaValidationError):
    return api.create_response(request, {"detail": error.errors}, status=422)


@api.exception_handler(InvalidGraph)
def on_invalid_graph(request: HttpRequest, error: InvalidGraph):
    return api.create_response(
        request, {"detail": [issue.as_dict() for issue in error.errors]}, status=422
    )


@api.exception_handler(ObjectDoesNotExist)
def on_not_found(request: HttpRequest, error: ObjectDoesNotExist):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(Http404)
def on_http404(request: HttpRequest, error: Http404):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, error: PermissionDenied):
    return api.create_response(
        request, {"detail": str(error) or "You may not do this."}, status=403
    )


@api.exception_handler(Conflict)
def on_conflict(request: HttpRequest, error: Conflict):
    return api.create_response(request, {"detail": str(error)}, status=409)


@api.exception_handler(UpgradeRequired)
def on_upgrade_required(request: HttpRequest, error: UpgradeRequired):
    return api.create_response(
        request, {"detail": str(error), "upgrade_url": error.upgrade_url}, status=402
    )


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, error: AuthenticationError):
    return api.create_response(
        request, {"detail": "Authentication required: log in, or send a Bearer token."}, status=401
    )


@api.exception_handler(InvalidCredentials)
def on_invalid_credentials(request: HttpRequest, error: InvalidCredentials):
    return api.create_response(request, {"detail": str(error)}, status=401)


@api.exception_handler(InvalidRefreshToken)
def on_invalid_refresh(request: HttpRequest, error: InvalidRefreshToken):
    return api.create_response(request, {"detail": str(error)}, status=401)


@api.exception_handler(AccountLockedOut)
def on_locked_out(request: HttpRequest, error: AccountLockedOut):
    return api.create_response(request, {"detail": str(error)}, status=403)


UNSTORABLE = "A value is out of range or contains characters that cannot be stored."


def _body_error(message: str, kind: str) -> dict:
    return {"loc": ["body"], "msg": message, "type": kind}


@api.exception_handler(RequestDataTooBig)
def on_body_too_big(request: HttpRequest, error: RequestDataTooBig):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return api.create_response(
        request, {"detail": f"The request body is larger than {limit} bytes."}, status=413
    )


@api.exception_handler(RecursionError)
def on_too_deep(request: HttpRequest, error: RecursionError):
    return api.create_response(
        request,
        {
            "detail": [
                {"loc": ["body"], "msg": "The body is nested too deeply.", "type": "json_invalid"}
            ]
        },
        status=422,
    )


@api.exception_handler(DataError)
def on_data_error(request: HttpRequest, error: DataError):
    # A value the database cannot hold (a NUL character, a number out of range) that validation
    # let through: refuse it like any invalid input. The request's writes were rolled back
    # with its transaction, or never made (the failing statement is the write).
    logger.warning("API: database refused a value: %s", error)
    return api.create_response(
        request,
        {
            "detail": [
                {
                    "loc": ["body"],
                    "msg": "A value is out of range or contains characters that cannot be stored.",
                    "type": "value_error",
                }
            ]
        },
        status=422,
    )


@api.exception_handler(redis.RedisError)
def on_redis_unavailable(request: HttpRequest, error: redis.RedisError):
    # Rate limits cannot be checked (nor signals published): refuse for now, as /health does,
    # instead of a 500 or letting requests through unthrottled.
    return outage_response(request, error)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError):
    return api.create_response(request, {"detail": str(error)}, status=error.status_code)


class CheckOut(Schema):
    ok: bool
    detail: str
    latency_ms: float


class HealthOut(Schema):
    status: str
    checks: dict[str, CheckOut]


@api.get(
    "/health",
    auth=None,
    throttle=[],
    response={200: HealthOut, 503: HealthOut},
    tags=["system"],
    summary="Database, Redis and Celery health (503 when any is down)",
)
def health_view(request: HttpRequest):
    checks = health.system_health()
    healthy = all(check.ok for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return Status(200 if healthy else 503, body)


api.add_router("/auth", auth_router)
api.add_router("/me", me_router)
api.add_router("/notifications/channels", channels_router)
api.add_router("/notifications", notifications_router)
api.add_router("/agents", agents_router)
api.add_router("/pipelines", cost_pipelines_router)
api.add_router("/custom-agents", custom_agents_router)
api.add_router("/admin/custom-agents", custom_agents_admin_router)
api.add_router("/pipelines", pipelines_router)
api.add_router("/pipelines", pipeline_executions_router)
api.add_router("/cost", cost_router)
api.add_router("/executions", executions_router)
api.add_router("/positions", positions_router)
api.add_router("/trades", trades_router)
api.add_router("/orders", orders_router)
api.add_router("/scanners", scanners_router)
api.add_router("/signals", signals_router)
api.add_router("/analytics", analytics_router)
api.add_router("/reports", reports_router)
api.add_router("/datasets", datasets_router)
api.add_router("/backtests", backtests_router)
api.add_router("/sweeps", sweeps_router)
api.add_router("/walkforwards", walkforwards_router)
