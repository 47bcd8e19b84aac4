"""Signals API: scanners (§18.4), signal types, the signal log, pipeline subscriptions, and the
webhook through which users send their own signals (TradingView alerts or §17.2 bodies)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import paginate
from ninja.security import HttpBearer

from accounts.selectors import api_token_lookup
from accounts.services import api_token_touch
from config.core.pagination import LimitOffsetPagination
from config.core.throttling import AnonThrottle, AtomicThrottle
from pipelines.selectors import pipeline_get
from signals import catalog, conf, selectors, services
from signals.bus import RedisStreamBus

router = Router(tags=["signals"])
scanners_router = Router(tags=["scanners"])


# -- auth and throttling of the webhook ----------------------------------------------------------


class APITokenAuth(HttpBearer):
    """Only personal API tokens (`tc_…`): a webhook is configured once in another system, so a
    15-minute JWT would not do, and a leaked token can be revoked on its own."""

    openapi_description = "A personal API token (Settings → API tokens): `Bearer tc_…`."

    def authenticate(self, request: HttpRequest, token: str):
        api_token = api_token_lookup(raw_token=token)
        if api_token is None:
            return None
        api_token_touch(token=api_token)
        request.api_token = api_token
        request.user = api_token.user
        return api_token.user


class WebhookThrottle(AtomicThrottle):
    """Per API token, with a scope of its own so it does not share the general API's counter."""

    scope = "signals_webhook"

    def get_cache_key(self, request: HttpRequest) -> str | None:
        token = getattr(request, "api_token", None)
        if token is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}


api_token_auth = APITokenAuth()


# -- schemas -------------------------------------------------------------------------------------


class Detail(Schema):
    detail: str


class ScannerIn(Schema):
    name: str = Field(..., min_length=1, max_length=255)
    tickers: list[str] = Field(..., max_length=100)
    scanner_type: str = "manual"


class ScannerPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=255)
    tickers: list[str] | None = Field(None, max_length=100)


class ScannerOut(Schema):
    id: int
    name: str
    scanner_type: str
    tickers: list[str]
    pipeline_count: int = 0
    active_pipeline_count: int = 0
    created_at: datetime
    updated_at: datetime


class SignalTypeOut(Schema):
    key: str
    label: str
    description: str
    tier: str
    external: bool
    available: bool


class SubscriptionsIn(Schema):
    scanner_id: int | None = None
    # Raw entries: validated by services.subscriptions_validate, whose messages name the entry.
    signal_subscriptions: list[dict[str, Any]] = Field(default_factory=list, max_length=50)


class SubscriptionsOut(Schema):
    pipeline_id: UUID
    scanner_id: int | None
    signal_subscriptions: list[dict[str, Any]]
    run_mode: str
    status: str
    listening: bool
    problem: str


class MatchOut(Schema):
    pipeline_id: UUID
    pipeline_name: str
    execution_id: UUID | None
    symbols: list[str]
    outcome: str
    reason: str


class SignalEventOut(Schema):
    id: int
    signal_id: str
    signal_type: str
    source: str
    tickers: list[dict[str, Any]]
    signal_at: datetime
    received_at: datetime
    from_webhook: bool
    matches: list[MatchOut]

    @staticmethod
    def resolve_from_webhook(obj) -> bool:
        return obj.owner_id is not None

    @staticmethod
    def resolve_matches(obj) -> list:
        return obj.my_matches


class WebhookOut(Schema):
    accepted: bool
    signal_id: str
    signal_type: str
    message_id: str


# -- scanners ------------------------------------------------------------------------------------


@scanners_router.get("", response=list[ScannerOut], summary="Your scanners")
@paginate(LimitOffsetPagination)
def scanners_list(request: HttpRequest):
    return selectors.scanners_for_user(user=request.auth)


@scanners_router.post("", response={201: ScannerOut}, summary="Create a scanner (a ticker list)")
def scanners_create(request: HttpRequest, payload: ScannerIn):
    scanner = services.scanner_create(owner=request.auth, **payload.dict())
    return Status(201, selectors.scanner_get(user=request.auth, scanner_id=scanner.pk))


@scanners_router.get("/{scanner_id}", response=ScannerOut, summary="One scanner")
def scanners_get(request: HttpRequest, scanner_id: int):
    return selectors.scanner_get(user=request.auth, scanner_id=scanner_id)


@scanners_router.put("/{scanner_id}", response=ScannerOut, summary="Change a scanner")
def scanners_update(request: HttpRequest, scanner_id: int, payload: ScannerPatch):
    scanner = selectors.scanner_get(user=request.auth, scanner_id=scanner_id)
    services.scanner_update(scanner=scanner, **payload.dict(exclude_unset=True))
    return selectors.scanner_get(user=request.auth, scanner_id=scanner_id)


@scanners_router.delete(
    "/{scanner_id}",
    response={204: None, 409: Detail},
    summary="Delete a scanner (409 while an active pipeline uses it)",
)
def scanners_delete(request: HttpRequest, scanner_id: int):
    services.scanner_delete(scanner=selectors.scanner_get(user=request.auth, scanner_id=scanner_id))
    return Status(204, None)


# -- signals -------------------------------------------------------------------------------------


@router.get("", response=list[SignalEventOut], summary="Recent signals and what they started")
def signals_list(request: HttpRequest, matched_only: bool = False, limit: int = 50):
    return selectors.signal_feed_for_user(
        user=request.auth, matched_only=matched_only, limit=max(1, min(limit, 200))
    )


@router.get("/types", response=list[SignalTypeOut], summary="Signal types and your access")
def signal_types(request: HttpRequest):
    allowed = catalog.allowed_signal_types(catalog.effective_tier(request.auth))
    return [
        {
            "key": t.key,
            "label": t.label,
            "description": t.description,
            "tier": t.tier,
            "external": not t.generated,
            "available": t.key in allowed,
        }
        for t in catalog.SIGNAL_TYPES.values()
    ]


@router.get(
    "/pipelines/{pipeline_id}/subscriptions",
    response=SubscriptionsOut,
    summary="A pipeline's scanner and signal subscriptions",
)
def subscriptions_get(request: HttpRequest, pipeline_id: UUID):
    return _subscriptions_out(pipeline_get(user=request.auth, pipeline_id=pipeline_id))


@router.put(
    "/pipelines/{pipeline_id}/subscriptions",
    response={200: SubscriptionsOut, 403: Detail},
    summary="Set which scanner a pipeline watches and which signals start it",
)
def subscriptions_set(request: HttpRequest, pipeline_id: UUID, payload: SubscriptionsIn):
    pipeline = pipeline_get(user=request.auth, pipeline_id=pipeline_id)
    services.pipeline_signal_settings_set(
        pipeline=pipeline,
        scanner_id=payload.scanner_id,
        signal_subscriptions=payload.signal_subscriptions,
    )
    return _subscriptions_out(pipeline)


def _subscriptions_out(pipeline) -> dict[str, Any]:
    problem = services.pipeline_listening_problem(pipeline)
    return {
        "pipeline_id": pipeline.pk,
        "scanner_id": pipeline.scanner_id,
        "signal_subscriptions": pipeline.signal_subscriptions,
        "run_mode": pipeline.run_mode,
        "status": pipeline.status,
        "listening": not problem,
        "problem": problem,
    }


_WEBHOOK_EXAMPLES = {
    "tradingview": {
        "summary": "TradingView alert",
        "value": {"ticker": "NASDAQ:AAPL", "action": "buy", "price": 189.5},
    },
    "signal": {
        "summary": "§17.2 signal",
        "value": {
            "timestamp": 1702234567,
            "source": "my-screener",
            "signal_id": "ms_1702234567_AAPL",
            "signal_type": "webhook",
            "tickers": [{"ticker": "AAPL", "signal": "BULLISH", "confidence": 85.5}],
        },
    },
}


@router.post(
    "/webhook",
    auth=api_token_auth,
    throttle=[
        AnonThrottle(conf.webhook_throttle_rate(), scope="signals_webhook_anon"),
        WebhookThrottle(conf.webhook_throttle_rate()),
    ],
    response={202: WebhookOut, 401: Detail, 422: Detail},
    summary="Send a signal to your own pipelines (TradingView alert or §17.2 body)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"examples": _WEBHOOK_EXAMPLES}},
        }
    },
)
def signals_webhook(request: HttpRequest):
    # The raw body goes to the service, which tells the two shapes apart and names the
    # offending field; the request body is documented through openapi_extra above.
    try:
        signal, message_id = services.webhook_signal_receive(
            bus=RedisStreamBus(), user=request.auth, body=request.body
        )
    except services.SignalBodyInvalid as error:
        raise NinjaValidationError(error.errors) from None
    return Status(
        202,
        {
            "accepted": True,
            "signal_id": signal.signal_id,
            "signal_type": signal.signal_type,
            "message_id": message_id,
        },
    )
