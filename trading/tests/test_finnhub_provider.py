"""The Finnhub provider and news through finnhub-python against the loopback Finnhub fake."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from trading.marketdata.base import MarketDataError
from trading.marketdata.finnhub_provider import FinnhubNews, FinnhubProvider
from trading.marketdata.news import SyntheticNews
from trading.marketdata.universe import UNIVERSE

from .conftest import HALF_DAY_NOON


@pytest.fixture
def provider(fake_finnhub):
    provider = FinnhubProvider("test-token", base_url=fake_finnhub.base_url, backoff=0.01)
    yield provider
    provider.http.close()


@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "1h", "4h", "1d"])
def test_it_reads_candles_through_finnhub_python(provider, fake_finnhub, synthetic, timeframe):
    bars = provider.bars("AAPL", timeframe, end=HALF_DAY_NOON, limit=100)
    expected = synthetic.bars("AAPL", timeframe, end=HALF_DAY_NOON, limit=100)
    pd.testing.assert_frame_equal(bars, expected)
    (request,) = fake_finnhub.requests_to(r"^/api/v1/stock/candle$")
    assert request.param("token") == "test-token"
    assert request.param("symbol") == "AAPL"
    assert int(request.param("to")) == int(HALF_DAY_NOON.timestamp())


def test_it_builds_hour_bars_from_half_hour_candles(provider, fake_finnhub):
    provider.bars("MSFT", "1h", end=HALF_DAY_NOON, limit=5)
    provider.bars("MSFT", "4h", end=HALF_DAY_NOON, limit=5)
    provider.bars("MSFT", "1d", end=HALF_DAY_NOON, limit=5)
    sent = [r.param("resolution") for r in fake_finnhub.requests_to(r"^/api/v1/stock/candle$")]
    assert sent == ["30", "30", "D"]


def test_it_returns_no_bars_for_an_unknown_symbol(provider):
    assert provider.bars("NOT-A-TICKER", "1d", end=HALF_DAY_NOON).empty


def test_it_fetches_quotes_concurrently_one_request_per_symbol(provider, fake_finnhub, synthetic):
    symbols = list(UNIVERSE[:12])
    fake_finnhub.delay_next(12, seconds=0.2, path=r"/quote$")
    quotes = provider.quotes([*symbols, "bad!"], at=HALF_DAY_NOON)
    assert set(quotes) == set(symbols)  # Finnhub answers unknown symbols with zeros
    requests = fake_finnhub.requests_to(r"^/api/v1/quote$")
    assert sorted(r.param("symbol") for r in requests) == sorted([*symbols, "bad!"])
    assert fake_finnhub.max_in_flight > 1
    expected = synthetic.quotes(symbols, at=HALF_DAY_NOON)
    for symbol in symbols:
        assert quotes[symbol].price == expected[symbol].price
        assert quotes[symbol].bid == quotes[symbol].ask == quotes[symbol].price
        assert quotes[symbol].timestamp == HALF_DAY_NOON


def test_it_retries_after_a_rate_limit(provider, fake_finnhub, synthetic):
    fake_finnhub.fail_next(
        status=429,
        body={"error": "API limit reached. Please try again later."},
        headers={"Retry-After": "0", "X-Ratelimit-Limit": "60", "X-Ratelimit-Remaining": "0"},
        path=r"/quote$",
    )
    quotes = provider.quotes(["AAPL"], at=HALF_DAY_NOON)
    assert quotes["AAPL"].price == synthetic.quotes(["AAPL"], at=HALF_DAY_NOON)["AAPL"].price
    assert [r.status for r in fake_finnhub.requests_to(r"/quote$")] == [429, 200]


def test_it_retries_server_errors_then_gives_up(provider, fake_finnhub):
    fake_finnhub.fail_next(3, status=503, body={"error": "upstream unavailable"})
    with pytest.raises(MarketDataError, match=r"failed after 3 attempts \(HTTP 503\)"):
        provider.bars("AAPL", "1d", end=HALF_DAY_NOON)
    assert len(fake_finnhub.requests) == 3


@pytest.mark.parametrize("status", [401, 403])
def test_it_explains_a_rejected_key_without_retrying(provider, fake_finnhub, status):
    fake_finnhub.fail_next(status=status, body={"error": "Invalid API key"})
    with pytest.raises(MarketDataError, match=r"^Finnhub rejected the API key$"):
        provider.quotes(["AAPL"], at=HALF_DAY_NOON)
    assert len(fake_finnhub.requests) == 1


def test_it_sends_the_configured_token(fake_finnhub):
    provider = FinnhubProvider("wrong-token", base_url=fake_finnhub.base_url)
    with pytest.raises(MarketDataError, match="Finnhub rejected the API key"):
        provider.bars("AAPL", "5m", end=HALF_DAY_NOON)


def test_it_explains_an_unreachable_server():
    provider = FinnhubProvider("t", base_url="http://127.0.0.1:9/api/v1", retries=1, backoff=0)
    with pytest.raises(MarketDataError, match="could not reach Finnhub"):
        provider.quotes(["AAPL", "MSFT"], at=HALF_DAY_NOON)


def test_it_reads_company_news_for_the_window(fake_finnhub):
    news = FinnhubNews("test-token", base_url=fake_finnhub.base_url)
    since = HALF_DAY_NOON - timedelta(days=6)
    headlines = news.headlines(["AAPL", "TSLA"], since=since, until=HALF_DAY_NOON)
    expected = SyntheticNews(42).headlines(["AAPL", "TSLA"], since=since, until=HALF_DAY_NOON)
    assert [(h.symbol, h.headline, h.published_at) for h in headlines] == [
        (h.symbol, h.headline, h.published_at) for h in expected
    ]
    assert all(h.tags == ("company",) for h in headlines)
    assert all(since <= h.published_at < HALF_DAY_NOON for h in headlines)
    requests = fake_finnhub.requests_to(r"^/api/v1/company-news$")
    assert sorted(r.param("symbol") for r in requests) == ["AAPL", "TSLA"]
    assert {r.param("from") for r in requests} == {"2026-11-20"}


def test_it_needs_an_api_key():
    with pytest.raises(MarketDataError, match="needs an API key"):
        FinnhubProvider("")
