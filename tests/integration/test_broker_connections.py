"""Broker connections against the Alpaca fake: verification and the executor they build."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.brokers import BrokerUnreachable
from accounts.models import BrokerStatus
from accounts.services import broker_connection_create, broker_connection_verify
from tests.fakes.alpaca import FakeAlpaca
from trading.clock import ManualClock
from trading.executors.alpaca import AlpacaExecutor, alpaca_executor_for
from trading.executors.base import BracketOrderRequest
from trading.executors.factory import executor_for

pytestmark = pytest.mark.django_db

API_KEY = "PKTEST1234ABCD"
API_SECRET = "paper-secret-5678wxyz"


@pytest.fixture
def fake():
    clock = ManualClock(datetime(2026, 11, 27, 17, 3, tzinfo=UTC))
    with FakeAlpaca(api_key=API_KEY, secret_key=API_SECRET, clock=clock) as fake:
        yield fake
    assert not fake.errors, fake.errors[0]


@pytest.fixture
def paper_connection(owner, fake, settings):
    settings.ALPACA_PAPER_URL = fake.url
    return broker_connection_create(
        owner=owner, account_type="paper", api_key=API_KEY, api_secret=API_SECRET
    )


def test_it_builds_a_paper_executor_that_trades_with_the_stored_keys(paper_connection, fake):
    executor = alpaca_executor_for(paper_connection)

    assert isinstance(executor, AlpacaExecutor)
    assert (executor.mode, executor.sends_orders, executor.manages_exits_at_broker) == (
        "PAPER",
        True,
        True,
    )
    assert executor.account().equity == Decimal("100000.00")
    fake.set_price("MSFT", "400.00")
    result = executor.submit_bracket(
        BracketOrderRequest(
            client_order_id="tc-conn-1",
            symbol="MSFT",
            side="buy",
            quantity=2,
            entry_price=Decimal("400.00"),
            stop_loss=Decimal("395.00"),
            target_1=Decimal("410.00"),
            target_2=Decimal("420.00"),
        )
    )
    assert (result.status, result.filled_quantity) == ("filled", 2)
    # The keys were decrypted from the row and sent as Alpaca's headers.
    (post,) = fake.requests_to(r"^/v2/orders$", "POST")
    assert post.headers["apca-api-key-id"] == API_KEY
    assert post.headers["apca-api-secret-key"] == API_SECRET


def test_it_builds_a_live_executor_pointed_at_the_live_url(owner, fake, settings):
    settings.ALPACA_LIVE_URL = fake.url
    connection = broker_connection_create(
        owner=owner, account_type="live", api_key=API_KEY, api_secret=API_SECRET
    )
    executor = alpaca_executor_for(connection)
    assert executor.mode == "LIVE"
    assert executor.positions() == []
    assert fake.requests_to(r"^/v2/positions$")


def test_the_factory_serves_paper_mode_through_the_connection(owner, paper_connection, fake):
    executor = executor_for(owner=owner, mode="PAPER")
    assert isinstance(executor, AlpacaExecutor) and executor.mode == "PAPER"
    assert executor.account().cash == Decimal("100000.00")


def test_verify_marks_good_keys_verified(paper_connection, fake):
    broker_connection_verify(connection=paper_connection)

    paper_connection.refresh_from_db()
    assert paper_connection.status == BrokerStatus.VERIFIED
    assert paper_connection.verified_at is not None
    assert paper_connection.last_error == ""
    assert paper_connection.account_number == fake.account_number
    assert paper_connection.account_equity == Decimal("100000.00")
    (request,) = fake.requests_to(r"^/v2/account$")
    assert request.status == 200


def test_verify_marks_rejected_keys_failed_with_a_clear_message(owner, fake, settings):
    settings.ALPACA_PAPER_URL = fake.url
    connection = broker_connection_create(
        owner=owner, account_type="paper", api_key=API_KEY, api_secret="not-the-secret"
    )

    broker_connection_verify(connection=connection)

    connection.refresh_from_db()
    assert connection.status == BrokerStatus.FAILED
    assert connection.verified_at is None
    assert connection.last_error == (
        "Alpaca rejected these API keys (check key, secret and paper/live)."
    )
    (request,) = fake.requests_to(r"^/v2/account$")
    assert request.status == 403


def test_verify_reports_an_unreachable_broker(owner, settings):
    settings.ALPACA_PAPER_URL = "http://127.0.0.1:9"
    connection = broker_connection_create(
        owner=owner, account_type="paper", api_key=API_KEY, api_secret=API_SECRET
    )
    with pytest.raises(BrokerUnreachable):
        broker_connection_verify(connection=connection)
    connection.refresh_from_db()
    # Nothing was learnt about the keys: their status stays unknown.
    assert connection.status == BrokerStatus.UNVERIFIED
    assert connection.last_error.startswith("Could not reach Alpaca")
    assert "the keys were not checked" in connection.last_error


def test_the_verify_button_says_the_broker_could_not_be_reached(owner, owner_client, settings):
    from django.urls import reverse

    settings.ALPACA_PAPER_URL = "http://nonexistent.invalid"
    connection = broker_connection_create(
        owner=owner, account_type="paper", api_key=API_KEY, api_secret=API_SECRET
    )
    response = owner_client.post(
        reverse("accounts:broker-verify", args=[connection.pk]), follow=True
    )
    html = response.content.decode()
    assert "The broker could not be reached" in html
    assert "refused the keys" not in html
    connection.refresh_from_db()
    assert connection.status == BrokerStatus.UNVERIFIED
