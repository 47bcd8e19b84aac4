"""Positions, trades and orders through the API; emergency close and close-all; owner-scoped."""

from datetime import timedelta

import pytest

from trading.clock import ManualClock
from trading.marketdata.csv_provider import CsvProvider
from trading.models import ManualIntervention, Position, Trade
from trading.tests.test_simulation_lifecycle import OPEN, open_position, write_bars

pytestmark = pytest.mark.django_db


@pytest.fixture
def position(owner, tmp_path, settings):
    write_bars(tmp_path, "TEST", {})
    settings.MARKET_DATA_PROVIDER = "csv"
    settings.MARKET_DATA_CSV_DIR = str(tmp_path)
    from trading.marketdata.registry import reset_providers

    reset_providers()
    clock = ManualClock(OPEN + timedelta(minutes=1))
    open_position(owner, CsvProvider(tmp_path), clock)
    yield Position.objects.get(owner=owner, symbol="TEST")
    reset_providers()


def test_positions_are_listed_with_levels(api, position):
    page = api.get("/api/v1/positions").json()
    assert page["count"] == 1
    [row] = page["items"]
    assert row["symbol"] == "TEST"
    assert row["trading_mode"] == "SIMULATION"
    assert (row["quantity"], row["stop_loss"], row["target_2"]) == (100, "98.0000", "106.0000")
    detail = api.get("/api/v1/positions/test").json()
    assert detail["monitoring_active"] is True
    assert len(detail["trades"]) == 1


def test_closing_needs_confirmation(api, position):
    response = api.post("/api/v1/positions/TEST/close", {})
    assert response.status_code == 422
    assert "confirm" in str(response.json()["detail"])
    position.refresh_from_db()
    assert position.status == "open"


def test_emergency_close_closes_stops_monitoring_and_is_audited(api, owner, position):
    response = api.post("/api/v1/positions/TEST/close", {"confirm": True, "reason": "news"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "closed"
    assert body["quantity"] == 100
    position.refresh_from_db()
    assert position.status == "closed"
    assert position.monitoring is False
    trade = Trade.objects.get(owner=owner)
    assert trade.close_reason == "manual"
    audit = ManualIntervention.objects.get(owner=owner)
    assert (audit.action, audit.symbol, audit.reason) == ("emergency_close", "TEST", "news")


def test_close_all_closes_everything_and_is_audited_once(api, owner, position):
    response = api.post("/api/v1/positions/close-all", {"confirm": True})
    assert response.status_code == 200
    assert [r["status"] for r in response.json()] == ["closed"]
    assert not Position.objects.filter(owner=owner, status="open").exists()
    audit = ManualIntervention.objects.get(owner=owner)
    assert (audit.action, audit.positions_affected) == ("emergency_close_all", 1)


def test_another_user_closing_my_position_gets_404(outsider_api, position):
    response = outsider_api.post("/api/v1/positions/TEST/close", {"confirm": True})
    assert response.status_code == 404
    assert outsider_api.get("/api/v1/positions").json() == {"items": [], "count": 0}
    assert outsider_api.post("/api/v1/positions/close-all", {"confirm": True}).json() == []
    position.refresh_from_db()
    assert position.status == "open"
    assert not ManualIntervention.objects.filter(symbol="TEST", positions_affected=1).exists()


def test_trades_and_orders_are_filtered_and_scoped(api, outsider_api, position):
    assert api.get("/api/v1/trades").json()["count"] == 1
    assert (
        api.get("/api/v1/trades", {"symbol": "test", "trading_mode": "SIMULATION"}).json()["count"]
        == 1
    )
    assert api.get("/api/v1/trades", {"trading_mode": "PAPER"}).json()["count"] == 0
    assert api.get("/api/v1/trades", {"date_from": "2030-01-01"}).json()["count"] == 0
    assert api.get("/api/v1/trades", {"trading_mode": "BOGUS"}).status_code == 422
    orders = api.get("/api/v1/orders").json()
    assert orders["count"] == 1
    assert orders["items"][0]["status"] == "filled"
    assert outsider_api.get("/api/v1/trades").json()["count"] == 0
    assert outsider_api.get("/api/v1/orders").json()["count"] == 0


def test_it_pages_positions_by_symbol_without_repeats(api, owner, outsider):
    from datetime import UTC, datetime
    from decimal import Decimal

    def held(user, symbol, status="open"):
        return Position(
            owner=user,
            trading_mode="SIMULATION",
            symbol=symbol,
            side="long",
            quantity=10,
            average_price=Decimal("100"),
            status=status,
            opened_at=datetime.now(UTC),
        )

    Position.objects.bulk_create(
        [held(owner, f"S{n}") for n in range(5)]
        + [held(owner, "S1", status="closed") for _ in range(3)]
        + [held(outsider, "S0")]
    )

    first = api.get("/api/v1/positions", {"limit": 3}).json()
    rest = api.get("/api/v1/positions", {"limit": 3, "offset": 3}).json()
    closed = api.get("/api/v1/positions", {"status": "closed", "limit": 2}).json()

    assert first["count"] == rest["count"] == 5
    symbols = [row["symbol"] for row in first["items"] + rest["items"]]
    assert symbols == ["S0", "S1", "S2", "S3", "S4"]
    assert closed["count"] == 3
    assert len(closed["items"]) == 2
    later = api.get("/api/v1/positions", {"status": "closed", "offset": 2}).json()["items"]
    ids = {row["id"] for row in closed["items"] + later}
    assert len(ids) == 3
    assert api.get("/api/v1/positions", {"limit": 0}).status_code == 422
