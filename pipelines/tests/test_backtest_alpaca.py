"""Datasets fetched from Alpaca's historical bars through alpaca-py, with the trader's own
Alpaca connection, against the loopback Alpaca fake (which serves the synthetic market)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from accounts.services import broker_connection_create
from tests.fakes.alpaca import FakeAlpaca
from trading.clock import ManualClock
from trading.marketdata.datasets import dataset_bars
from trading.marketdata.synthetic import SyntheticProvider
from trading.models import Dataset

pytestmark = pytest.mark.django_db

# Friday 2026-11-27, 12:03 New York (the half day after Thanksgiving).
NOW = datetime(2026, 11, 27, 17, 3, tzinfo=UTC)
START = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
KEY, SECRET = "PKTEST12345678", "secret-key-5678"


@pytest.fixture
def fake_alpaca(settings):
    with FakeAlpaca(api_key=KEY, secret_key=SECRET, clock=ManualClock(NOW)) as fake:
        settings.ALPACA_DATA_URL = fake.url
        yield fake
    assert not fake.errors, fake.errors[0]


def fetch(api, **overrides):
    body = {
        "source": "alpaca",
        "symbol": "aapl",
        "timeframe": "5m",
        "start": START.isoformat(),
        "end": NOW.isoformat(),
    }
    return api.post("/api/v1/datasets/fetch", {**body, **overrides})


def test_it_fetches_alpaca_bars_with_the_trader_s_connection(api, owner, fake_alpaca):
    broker_connection_create(owner=owner, account_type="paper", api_key=KEY, api_secret=SECRET)

    response = fetch(api)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["source"], body["symbol"], body["timeframe"]) == ("alpaca", "AAPL", "5m")
    dataset = Dataset.objects.get(pk=body["id"], owner=owner)
    stored = dataset_bars(dataset)
    # The same bars the market shows: the synthetic market the fake serves, from START on.
    expected = SyntheticProvider(seed=42).bars("AAPL", "5m", end=NOW, limit=len(stored) + 50)
    expected = expected[expected.index >= START]
    assert len(stored) == len(expected) == body["bar_count"]
    assert np.array_equal(stored.close, expected["close"].to_numpy())
    requests = fake_alpaca.requests_to(r"^/v2/stocks/bars$")
    assert requests and {r.headers["apca-api-key-id"] for r in requests} == {KEY}


def test_without_an_alpaca_connection_it_says_so_naming_the_source(api, fake_alpaca):
    response = fetch(api)

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "source"]
    assert "Connect an Alpaca account" in problem["msg"]
    assert not fake_alpaca.requests_to(r"^/v2/stocks/bars$")
    assert not Dataset.objects.exists()


def test_an_unknown_source_is_refused(api):
    response = fetch(api, source="yahoo")

    assert response.status_code == 422
    assert "source" in str(response.json()["detail"])
