"""The Alpaca provider through alpaca-py against the loopback Alpaca fake."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from trading.marketdata.alpaca_provider import AlpacaProvider
from trading.marketdata.base import MarketDataError
from trading.marketdata.universe import UNIVERSE

from .conftest import HALF_DAY_NOON


@pytest.fixture
def provider(fake_alpaca):
    return AlpacaProvider("test-key", "test-secret", url_override=fake_alpaca.url)


@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "1h", "4h", "1d"])
def test_it_reads_bars_through_alpaca_py(provider, fake_alpaca, synthetic, timeframe):
    bars = provider.bars("AAPL", timeframe, end=HALF_DAY_NOON, limit=120)
    pd.testing.assert_frame_equal(
        bars, synthetic.bars("AAPL", timeframe, end=HALF_DAY_NOON, limit=120)
    )
    (request,) = fake_alpaca.requests_to(r"^/v2/stocks/bars$")
    assert request.param("symbols") == "AAPL"
    assert request.param("feed") == "iex"
    assert request.param("sort") == "desc"
    assert request.headers["apca-api-key-id"] == "test-key"
    assert request.headers["apca-api-secret-key"] == "test-secret"
    # The request is bounded by a start computed from the calendar.
    start = datetime.fromisoformat(request.param("start"))
    assert start < bars.index[0].to_pydatetime()


def test_it_maps_timeframes_to_alpaca_strings(provider, fake_alpaca):
    for timeframe in ("1m", "5m", "15m", "1h", "4h", "1d"):
        provider.bars("MSFT", timeframe, end=HALF_DAY_NOON, limit=3)
    sent = [r.param("timeframe") for r in fake_alpaca.requests_to(r"^/v2/stocks/bars$")]
    assert sent == ["1Min", "5Min", "15Min", "1Hour", "4Hour", "1Day"]


def test_it_restamps_daily_bars_at_the_session_open(provider, fake_alpaca):
    daily = provider.bars("MSFT", "1d", end=HALF_DAY_NOON, limit=2)
    # The fake, like Alpaca, stamps daily bars at midnight New York (05:00 UTC in November).
    assert list(daily.index) == [
        pd.Timestamp("2026-11-24 14:30", tz="UTC"),
        pd.Timestamp("2026-11-25 14:30", tz="UTC"),
    ]


def test_it_follows_pagination(provider, fake_alpaca, synthetic):
    fake_alpaca.page_size = 100
    bars = provider.bars("NVDA", "5m", end=HALF_DAY_NOON, limit=250)
    pd.testing.assert_frame_equal(bars, synthetic.bars("NVDA", "5m", end=HALF_DAY_NOON, limit=250))
    assert len(fake_alpaca.requests_to(r"^/v2/stocks/bars$")) > 2


def test_it_fetches_quotes_for_many_symbols_in_one_request(provider, fake_alpaca, synthetic):
    symbols = list(UNIVERSE[:50])
    quotes = provider.quotes(symbols, at=HALF_DAY_NOON)
    assert set(quotes) == set(symbols)
    (request,) = fake_alpaca.requests_to(r"^/v2/stocks/quotes/latest$")
    assert request.param("symbols") == ",".join(symbols)
    expected = synthetic.quotes(symbols, at=HALF_DAY_NOON)
    for symbol in symbols:
        assert quotes[symbol].bid == expected[symbol].bid
        assert quotes[symbol].ask == expected[symbol].ask
        assert quotes[symbol].price == pytest.approx(
            (expected[symbol].bid + expected[symbol].ask) / 2
        )
        assert quotes[symbol].timestamp == HALF_DAY_NOON


def test_it_explains_a_rejected_key(fake_alpaca):
    provider = AlpacaProvider("test-key", "wrong-secret", url_override=fake_alpaca.url)
    with pytest.raises(
        MarketDataError, match=r"Alpaca rejected the API key \(HTTP 403: forbidden\)"
    ):
        provider.bars("AAPL", "1d", end=HALF_DAY_NOON)
    with pytest.raises(MarketDataError, match="Alpaca rejected the API key"):
        provider.quotes(["AAPL"], at=HALF_DAY_NOON)


def test_it_reports_server_errors_with_their_status(provider, fake_alpaca):
    fake_alpaca.fail_next(status=500, body={"code": 50010000, "message": "internal server error"})
    with pytest.raises(MarketDataError, match=r"Alpaca bars request failed \(HTTP 500\)"):
        provider.bars("AAPL", "1d", end=HALF_DAY_NOON)
    fake_alpaca.fail_next(status=422, body={"code": 42210000, "message": "invalid symbol: A-B"})
    with pytest.raises(MarketDataError, match=r"HTTP 422.*invalid symbol"):
        provider.quotes(["A-B"], at=HALF_DAY_NOON)


def test_it_explains_an_unreachable_server():
    provider = AlpacaProvider("k", "s", url_override="http://127.0.0.1:9")
    with pytest.raises(MarketDataError, match="could not reach Alpaca market data"):
        provider.bars("AAPL", "1d", end=datetime(2026, 11, 27, 17, tzinfo=UTC))


def test_it_refuses_an_unknown_feed_or_missing_keys():
    with pytest.raises(MarketDataError, match="unknown Alpaca data feed 'nasdaq'"):
        AlpacaProvider("k", "s", feed="nasdaq")
    with pytest.raises(MarketDataError, match="needs both an API key and a secret key"):
        AlpacaProvider("k", "")
