"""Trading-mode switches (§12.4): LIVE needs confirmation, the progression and a verified live
broker; every switch is audited; "clone as live" leaves the original untouched."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import BrokerConnection, BrokerStatus
from pipelines.models import Pipeline, PipelineModeChange
from trading.models import Trade

pytestmark = pytest.mark.django_db


def closed_trades(owner, mode, count, pnl="10.00"):
    now = timezone.now()
    Trade.objects.bulk_create(
        Trade(
            owner=owner,
            trading_mode=mode,
            symbol="AAPL",
            side="long",
            quantity=10,
            remaining_quantity=0,
            requested_entry_price=Decimal("100"),
            entry_price=Decimal("100"),
            stop_loss=Decimal("98"),
            initial_stop_loss=Decimal("98"),
            target_1=Decimal("103"),
            target_2=Decimal("106"),
            status="closed",
            realized_pnl=Decimal(pnl),
            opened_at=now,
            closed_at=now,
        )
        for _ in range(count)
    )


def connection(owner, kind, verified=True):
    return BrokerConnection.objects.create(
        owner=owner,
        account_type=kind,
        api_key=f"PK{kind.upper()}KEY123456",
        api_secret="secret-secret-secret",
        key_last4="3456",
        status=BrokerStatus.VERIFIED if verified else BrokerStatus.UNVERIFIED,
    )


def test_live_without_anything_is_refused_naming_each_missing_piece(api, day_trading):
    response = api.patch(f"/api/v1/pipelines/{day_trading.pk}/mode", {"mode": "LIVE"})
    assert response.status_code == 422
    fields = {item["loc"][-1]: item["msg"] for item in response.json()["detail"]}
    assert "confirm" in fields["confirmed"]
    assert "10 closed simulated trades (you have 0)" in fields["mode"]
    assert "25 closed paper trades" in fields["mode"]
    assert "live account" in fields["broker_connection"]
    day_trading.refresh_from_db()
    assert day_trading.trading_mode == "SIMULATION"
    assert not PipelineModeChange.objects.exists()


def test_live_with_an_unverified_broker_is_refused(api, owner, day_trading):
    closed_trades(owner, "SIMULATION", 10)
    closed_trades(owner, "PAPER", 25)
    connection(owner, "live", verified=False)
    response = api.patch(
        f"/api/v1/pipelines/{day_trading.pk}/mode", {"mode": "LIVE", "confirmed": True}
    )
    assert response.status_code == 422
    assert [item["loc"][-1] for item in response.json()["detail"]] == ["broker_connection"]
    assert "Verify" in response.json()["detail"][0]["msg"]


def test_live_needs_a_positive_paper_record(api, owner, day_trading):
    closed_trades(owner, "SIMULATION", 10)
    closed_trades(owner, "PAPER", 25, pnl="-1.00")
    connection(owner, "live")
    response = api.patch(
        f"/api/v1/pipelines/{day_trading.pk}/mode", {"mode": "LIVE", "confirmed": True}
    )
    assert response.status_code == 422
    assert "positive paper P&L" in str(response.json()["detail"])


def test_live_with_everything_switches_and_is_audited(api, owner, day_trading):
    closed_trades(owner, "SIMULATION", 10)
    closed_trades(owner, "PAPER", 25)
    live = connection(owner, "live")
    response = api.patch(
        f"/api/v1/pipelines/{day_trading.pk}/mode",
        {"mode": "LIVE", "confirmed": True, "reason": "ready"},
    )
    assert response.status_code == 200, response.content
    day_trading.refresh_from_db()
    assert day_trading.trading_mode == "LIVE"
    assert day_trading.broker_connection == live
    assert day_trading.mode_changed_by == owner
    change = PipelineModeChange.objects.get()
    assert (change.from_mode, change.to_mode, change.confirmed, change.reason) == (
        "SIMULATION",
        "LIVE",
        True,
        "ready",
    )
    history = api.get(f"/api/v1/pipelines/{day_trading.pk}/mode-changes").json()
    assert history["count"] == 1
    assert history["items"][0]["to_mode"] == "LIVE"


def test_test_modes_switch_freely_and_are_audited(api, day_trading):
    response = api.patch(f"/api/v1/pipelines/{day_trading.pk}/mode", {"mode": "VALIDATION"})
    assert response.status_code == 200
    assert PipelineModeChange.objects.get().to_mode == "VALIDATION"


def test_paper_needs_the_simulated_trades_and_a_paper_connection(api, owner, day_trading):
    response = api.patch(f"/api/v1/pipelines/{day_trading.pk}/mode", {"mode": "PAPER"})
    assert response.status_code == 422
    assert {item["loc"][-1] for item in response.json()["detail"]} == {"mode", "broker_connection"}
    closed_trades(owner, "SIMULATION", 10)
    connection(owner, "paper")
    assert (
        api.patch(f"/api/v1/pipelines/{day_trading.pk}/mode", {"mode": "PAPER"}).status_code == 200
    )


def test_clone_as_live_copies_and_leaves_the_original(api, owner, day_trading):
    refused = api.post(f"/api/v1/pipelines/{day_trading.pk}/clone", {"as_live": True})
    assert refused.status_code == 422
    assert Pipeline.objects.filter(owner=owner).count() == 1  # nothing half-written
    closed_trades(owner, "SIMULATION", 10)
    closed_trades(owner, "PAPER", 25)
    connection(owner, "live")
    response = api.post(
        f"/api/v1/pipelines/{day_trading.pk}/clone", {"as_live": True, "confirmed": True}
    )
    assert response.status_code == 201, response.content
    clone = Pipeline.objects.get(pk=response.json()["id"])
    day_trading.refresh_from_db()
    assert clone.trading_mode == "LIVE"
    assert day_trading.trading_mode == "SIMULATION"
    assert clone.graph == day_trading.graph


def test_another_user_cannot_switch_my_pipeline(outsider_api, day_trading):
    response = outsider_api.patch(
        f"/api/v1/pipelines/{day_trading.pk}/mode", {"mode": "VALIDATION"}
    )
    assert response.status_code == 404
    day_trading.refresh_from_db()
    assert day_trading.trading_mode == "SIMULATION"
