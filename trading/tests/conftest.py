"""Fixtures for market-data tests: a session-time clock, the synthetic source and API fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fakes.alpaca import FakeAlpaca
from tests.fakes.finnhub import FakeFinnhub
from trading.clock import ManualClock
from trading.marketdata.synthetic import SyntheticProvider

# Friday 2026-11-27, the half day after Thanksgiving, 12:03 New York: an hour before the close.
HALF_DAY_NOON = datetime(2026, 11, 27, 17, 3, tzinfo=UTC)


@pytest.fixture
def clock():
    return ManualClock(HALF_DAY_NOON)


@pytest.fixture(scope="session")
def synthetic():
    """One provider for the whole run: its caches make repeated reads cheap."""
    return SyntheticProvider(seed=42)


@pytest.fixture
def fake_alpaca(clock):
    with FakeAlpaca(clock=clock) as fake:
        yield fake
    assert not fake.errors, fake.errors[0]


@pytest.fixture
def fake_finnhub(clock):
    with FakeFinnhub(clock=clock) as fake:
        yield fake
    assert not fake.errors, fake.errors[0]
