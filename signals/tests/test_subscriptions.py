"""Pipeline signal subscriptions: validation, the owner-scoped endpoint, and tier gating."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from accounts.models import SubscriptionTier
from pipelines.blueprints import pipeline_create_from_blueprint
from signals.services import subscriptions_validate
from signals.tests.factories import ScannerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(owner):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    return pipeline


def test_it_cleans_valid_subscriptions():
    cleaned = subscriptions_validate(
        [
            {"signal_type": "Golden_Cross", "min_confidence": "80"},
            {"signal_type": "rsi_oversold", "min_confidence": 62.5},
            {"signal_type": "webhook"},
        ]
    )

    assert cleaned == [
        {"signal_type": "golden_cross", "min_confidence": 80},
        {"signal_type": "rsi_oversold", "min_confidence": 62.5},
        {"signal_type": "webhook", "min_confidence": 0},
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"signal_type": "moon_phase"}], "unknown signal type 'moon_phase'"),
        ([{"signal_type": "golden_cross", "min_confidence": 101}], "between 0 and 100"),
        ([{"signal_type": "golden_cross", "min_confidence": -1}], "between 0 and 100"),
        ([{"signal_type": "golden_cross", "min_confidence": "high"}], "a number from 0 to 100"),
        ([{"signal_type": "rsi_oversold"}, {"signal_type": "rsi_oversold"}], "listed twice"),
        ("golden_cross", "A list"),
        (["golden_cross"], "an object"),
    ],
)
def test_it_refuses_invalid_subscriptions(raw, message):
    with pytest.raises(ValidationError) as error:
        subscriptions_validate(raw)
    assert message in " ".join(error.value.message_dict["signal_subscriptions"])


def test_the_owner_sets_a_scanner_and_subscriptions(api, owner, pipeline):
    scanner = ScannerFactory(owner=owner)

    response = api.put(
        f"/api/v1/signals/pipelines/{pipeline.pk}/subscriptions",
        {
            "scanner_id": scanner.pk,
            "signal_subscriptions": [{"signal_type": "golden_cross", "min_confidence": 80}],
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["listening"] is False  # still a draft in run-once mode
    assert "Run on signal" in body["problem"]
    pipeline.refresh_from_db()
    assert pipeline.scanner_id == scanner.pk
    assert pipeline.signal_subscriptions == [{"signal_type": "golden_cross", "min_confidence": 80}]
    assert api.get(f"/api/v1/signals/pipelines/{pipeline.pk}/subscriptions").json()[
        "signal_subscriptions"
    ] == [{"signal_type": "golden_cross", "min_confidence": 80}]


def test_an_unknown_signal_type_gets_422_naming_it(api, pipeline):
    response = api.put(
        f"/api/v1/signals/pipelines/{pipeline.pk}/subscriptions",
        {"signal_subscriptions": [{"signal_type": "moon_phase", "min_confidence": 50}]},
    )

    assert response.status_code == 422
    assert "moon_phase" in response.json()["detail"][0]["msg"]
    pipeline.refresh_from_db()
    assert pipeline.signal_subscriptions == []


def test_another_users_scanner_cannot_be_used(api, outsider, pipeline):
    theirs = ScannerFactory(owner=outsider)

    response = api.put(
        f"/api/v1/signals/pipelines/{pipeline.pk}/subscriptions",
        {"scanner_id": theirs.pk, "signal_subscriptions": []},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "scanner_id"]
    pipeline.refresh_from_db()
    assert pipeline.scanner_id is None


def test_an_outsider_gets_404_and_changes_nothing(outsider_api, pipeline):
    url = f"/api/v1/signals/pipelines/{pipeline.pk}/subscriptions"
    assert outsider_api.get(url).status_code == 404
    response = outsider_api.put(
        url, {"signal_subscriptions": [{"signal_type": "webhook", "min_confidence": 0}]}
    )

    assert response.status_code == 404
    pipeline.refresh_from_db()
    assert pipeline.signal_subscriptions == []


@override_settings(ENFORCE_SUBSCRIPTION_LIMITS=True)
def test_a_free_user_may_only_subscribe_to_external_signals(api, owner, pipeline):
    owner.subscription_tier = SubscriptionTier.FREE
    owner.save()
    url = f"/api/v1/signals/pipelines/{pipeline.pk}/subscriptions"

    refused = api.put(
        url,
        {
            "signal_subscriptions": [
                {"signal_type": "webhook", "min_confidence": 0},
                {"signal_type": "golden_cross", "min_confidence": 80},
            ]
        },
    )
    allowed = api.put(url, {"signal_subscriptions": [{"signal_type": "tradingview"}]})

    assert refused.status_code == 403
    assert "golden_cross" in refused.json()["detail"]
    assert allowed.status_code == 200
    pipeline.refresh_from_db()
    assert pipeline.signal_subscriptions == [{"signal_type": "tradingview", "min_confidence": 0}]


@override_settings(ENFORCE_SUBSCRIPTION_LIMITS=True)
@pytest.mark.parametrize(
    ("tier", "count"),
    [("FREE", 2), ("BASIC", 7), ("PRO", 11), ("ENTERPRISE", 12)],
)
def test_each_tier_sees_its_signal_buckets(api, owner, tier, count):
    owner.subscription_tier = tier
    owner.save()

    types = api.get("/api/v1/signals/types").json()

    available = [t["key"] for t in types if t["available"]]
    assert len(available) == count
    # External signals are in every bucket; BASIC has 5 generated types, PRO 9, ENTERPRISE all.
    assert {"webhook", "tradingview"} <= set(available)


@override_settings(ENFORCE_SUBSCRIPTION_LIMITS=False, DEFAULT_SUBSCRIPTION_TIER="ENTERPRISE")
def test_without_enforcement_everyone_gets_the_default_tier(api, owner, pipeline):
    owner.subscription_tier = SubscriptionTier.FREE
    owner.save()

    response = api.put(
        f"/api/v1/signals/pipelines/{pipeline.pk}/subscriptions",
        {"signal_subscriptions": [{"signal_type": "mock"}, {"signal_type": "news_sentiment"}]},
    )

    assert response.status_code == 200, response.content
