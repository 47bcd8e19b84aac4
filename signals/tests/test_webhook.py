"""Webhook intake: API-token auth, the two body shapes, 422s that name the field, throttling,
and a user's signal reaching only that user's pipelines."""

from __future__ import annotations

import json

import pytest

from accounts.services import api_token_create, api_token_revoke
from conftest import APIClient
from pipelines.models import PipelineExecution
from signals.models import SignalEvent
from signals.tests.factories import signal_body, signal_pipeline

URL = "/api/v1/signals/webhook"


@pytest.fixture
def token(owner):
    _, raw = api_token_create(user=owner, name="TradingView")
    return raw


@pytest.fixture
def webhook(token):
    return APIClient(token=token)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer tc_not-a-real-token", "Bearer nonsense", "Basic dXNlcjpwYXNz"],
)
def test_a_missing_or_wrong_token_gets_401_and_publishes_nothing(
    authorization, default_bus, anon_api
):
    headers = {"Authorization": authorization} if authorization else {}

    response = anon_api.post(URL, {"ticker": "AAPL", "action": "buy"}, headers=headers)

    assert response.status_code == 401
    assert default_bus.client.xlen(default_bus.stream) == 0


@pytest.mark.django_db
def test_a_jwt_or_a_revoked_token_is_not_enough(api, owner, token, default_bus):
    # `api` carries the owner's JWT: fine for the API, not for a webhook.
    assert api.post(URL, {"ticker": "AAPL", "action": "buy"}).status_code == 401
    api_token_revoke(token=owner.api_tokens.get())
    assert APIClient(token=token).post(URL, {"ticker": "AAPL", "action": "buy"}).status_code == 401
    assert default_bus.client.xlen(default_bus.stream) == 0


@pytest.mark.django_db
def test_a_tradingview_alert_is_published_as_the_users_signal(webhook, owner, default_bus):
    response = webhook.post(
        URL, {"ticker": "NASDAQ:AAPL", "action": "sell", "price": 189.5, "strategy": "x"}
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["signal_type"] == "tradingview"
    default_bus.ensure_group()
    [message] = default_bus.read(consumer="test", count=10, block_ms=0)
    assert message.message_id == body["message_id"]
    assert message.owner_id == owner.pk
    assert message.signal["signal_id"] == body["signal_id"]
    assert message.signal["tickers"] == [
        {"ticker": "AAPL", "signal": "BEARISH", "confidence": 100.0}
    ]


@pytest.mark.django_db
def test_a_signal_body_is_published_as_sent(webhook, owner, default_bus):
    signal = signal_body(signal_type="webhook", tickers=[("msft", 72)])

    response = webhook.post(URL, signal)

    assert response.status_code == 202, response.content
    default_bus.ensure_group()
    [message] = default_bus.read(consumer="test", count=10, block_ms=0)
    assert message.signal["signal_id"] == signal["signal_id"]
    assert message.signal["tickers"][0]["ticker"] == "MSFT"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ticker": "AAPL"}, "action"),
        ({"ticker": "AAPL", "action": "moon"}, "action"),
        ({"ticker": "not a ticker", "action": "buy"}, "ticker"),
        ({"price": 12}, "tickers"),
        (
            {
                **signal_body(),
                "tickers": [{"ticker": "AAPL", "signal": "BULLISH", "confidence": 150}],
            },
            "confidence",
        ),
        ({**signal_body(), "signal_type": "Bad Type!"}, "signal_type"),
        ({key: v for key, v in signal_body().items() if key != "signal_id"}, "signal_id"),
        (
            {**signal_body(), "tickers": [{"ticker": "AAPL", "signal": "UP", "confidence": 5}]},
            "signal",
        ),
    ],
)
def test_a_malformed_body_gets_422_naming_the_field(webhook, body, field, default_bus):
    response = webhook.post(URL, body)

    assert response.status_code == 422
    locations = {loc for error in response.json()["detail"] for loc in error["loc"]}
    assert field in locations, response.json()
    assert default_bus.client.xlen(default_bus.stream) == 0


def _with(body: dict, **fields) -> str:
    """The body as raw JSON text, so numbers like 1e309 reach the server as written."""
    text = json.dumps(body)[:-1]
    return text + "".join(f', "{name}": {value}' for name, value in fields.items()) + "}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            _with({k: v for k, v in signal_body().items() if k != "timestamp"}, timestamp="1e20"),
            "timestamp",
        ),
        (
            _with(
                {k: v for k, v in signal_body().items() if k != "timestamp"}, timestamp="Infinity"
            ),
            "timestamp",
        ),
        (
            _with(
                {k: v for k, v in signal_body().items() if k != "source"},
                source='"bad\\u0000source"',
            ),
            "source",
        ),
        (
            _with(
                {k: v for k, v in signal_body().items() if k != "source"}, source='"line\\nbreak"'
            ),
            "source",
        ),
        ('{"ticker": "AAPL", "action": "buy", "price": 1e309}', "price"),
        ('{"ticker": "AAPL", "action": "buy", "price": NaN}', "price"),
        ('{"ticker": "AAPL", "action": "buy", "time": 1e300}', "time"),
        (
            _with(
                {k: v for k, v in signal_body().items() if k != "tickers"},
                tickers='[{"ticker": "AAPL", "signal": "BULLISH", "confidence": NaN}]',
            ),
            "confidence",
        ),
    ],
    ids=[
        "timestamp-1e20",
        "timestamp-inf",
        "nul-source",
        "newline-source",
        "price-1e309",
        "price-nan",
        "time-1e300",
        "confidence-nan",
    ],
)
def test_it_refuses_what_the_dispatcher_could_not_record_with_422_naming_the_field(
    webhook, raw, field, default_bus
):
    response = webhook.post(URL, raw, content_type="application/json; charset=utf-8")

    assert response.status_code == 422, response.content
    locations = {loc for error in response.json()["detail"] for loc in error["loc"]}
    assert field in locations, response.json()
    assert default_bus.client.xlen(default_bus.stream) == 0


@pytest.mark.django_db
def test_it_refuses_a_deeply_nested_body_with_422(webhook, default_bus):
    response = webhook.post(
        URL, "[" * 100_000 + "]" * 100_000, content_type="application/json; charset=utf-8"
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    assert default_bus.client.xlen(default_bus.stream) == 0


@pytest.mark.django_db
def test_a_body_that_is_not_json_gets_422(webhook, default_bus):
    response = webhook.post(URL, "ticker=AAPL&action=buy", content_type="text/plain")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.django_db
def test_the_webhook_is_rate_limited_per_token(webhook, default_bus):
    from signals import conf

    limit = int(conf.webhook_throttle_rate().split("/")[0])
    statuses = [
        webhook.post(URL, {"ticker": "AAPL", "action": "buy"}).status_code for _ in range(limit + 1)
    ]

    assert statuses[:limit] == [202] * limit
    assert statuses[-1] == 429
    assert default_bus.client.xlen(default_bus.stream) == limit


@pytest.mark.django_db(transaction=True)
def test_one_users_webhook_never_starts_another_users_pipeline(
    owner, peer, webhook, default_bus, make_dispatcher, executions_queue
):
    mine = signal_pipeline(owner=owner, subscriptions=[("tradingview", 0)])
    theirs = signal_pipeline(owner=peer, subscriptions=[("tradingview", 0)])
    market_wide = signal_pipeline(owner=peer, subscriptions=[("golden_cross", 0)])
    dispatcher = make_dispatcher(default_bus)

    response = webhook.post(URL, {"ticker": "AAPL", "action": "buy", "price": 190})
    assert response.status_code == 202
    [result] = dispatcher.run_once()

    assert result.status == "processed"
    assert [e.pipeline_id for e in PipelineExecution.objects.all()] == [mine.pk]
    assert not PipelineExecution.objects.filter(pipeline__in=[theirs, market_wide]).exists()
    event = SignalEvent.objects.get()
    assert (event.owner_id, event.signal_type) == (owner.pk, "tradingview")
    # …and the peer's feed does not show the owner's webhook signal.
    peer_api = APIClient()
    peer_api.force_login(peer)
    assert peer_api.get("/api/v1/signals").json() == []
