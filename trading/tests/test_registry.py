"""The provider registry: providers built from settings, shared per process, resettable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from trading.marketdata import registry
from trading.marketdata.alpaca_provider import AlpacaProvider
from trading.marketdata.csv_provider import CsvProvider
from trading.marketdata.finnhub_provider import FinnhubNews, FinnhubProvider
from trading.marketdata.news import SyntheticNews
from trading.marketdata.synthetic import SyntheticProvider

# What config/settings.py gives on an empty environment, so a developer's .env (a Finnhub key,
# another provider) does not change what these tests see.
BASELINE = {
    "MARKET_DATA_PROVIDER": "synthetic",
    "MARKET_DATA_SEED": 42,
    "MARKET_DATA_CSV_DIR": "",
    "ALPACA_DATA_API_KEY": "",
    "ALPACA_DATA_SECRET_KEY": "",
    "ALPACA_DATA_URL": "",
    "ALPACA_DATA_FEED": "iex",
    "FINNHUB_API_KEY": "",
    "FINNHUB_BASE_URL": "",
}


@pytest.fixture(autouse=True)
def _fresh_registry(settings):
    for name, value in BASELINE.items():
        setattr(settings, name, value)
    registry.reset_providers()
    yield
    registry.reset_providers()


def test_it_defaults_to_synthetic_data_and_news():
    provider = registry.market_data_provider()
    assert isinstance(provider, SyntheticProvider)
    assert provider.seed == 42
    assert registry.market_data_provider() is provider
    news = registry.news_provider()
    assert isinstance(news, SyntheticNews)
    assert news.seed == 42


def test_it_uses_the_configured_seed(settings):
    settings.MARKET_DATA_SEED = "7"
    assert registry.market_data_provider().seed == 7
    assert registry.news_provider().seed == 7


def test_it_rebuilds_after_a_reset(settings):
    first = registry.market_data_provider()
    settings.MARKET_DATA_SEED = 9
    assert registry.market_data_provider() is first
    registry.reset_providers()
    assert registry.market_data_provider().seed == 9


def test_it_builds_the_csv_provider(settings, tmp_path):
    settings.MARKET_DATA_PROVIDER = "csv"
    settings.MARKET_DATA_CSV_DIR = str(tmp_path)
    provider = registry.market_data_provider()
    assert isinstance(provider, CsvProvider)
    assert provider.folder == tmp_path


def test_it_builds_the_alpaca_provider(settings):
    settings.MARKET_DATA_PROVIDER = "Alpaca"
    settings.ALPACA_DATA_API_KEY = "key"
    settings.ALPACA_DATA_SECRET_KEY = "secret"
    settings.ALPACA_DATA_URL = "http://127.0.0.1:9999/"
    settings.ALPACA_DATA_FEED = "sip"
    provider = registry.market_data_provider()
    assert isinstance(provider, AlpacaProvider)
    assert provider.url_override == "http://127.0.0.1:9999"
    assert provider.feed.value == "sip"


def test_it_uses_finnhub_for_data_and_news_when_keyed(settings):
    settings.MARKET_DATA_PROVIDER = "finnhub"
    settings.FINNHUB_API_KEY = "token"
    settings.FINNHUB_BASE_URL = "http://127.0.0.1:9999/api/v1"
    provider = registry.market_data_provider()
    assert isinstance(provider, FinnhubProvider)
    assert provider.http.base_url == "http://127.0.0.1:9999/api/v1"
    news = registry.news_provider()
    assert isinstance(news, FinnhubNews)
    assert news.http.base_url == "http://127.0.0.1:9999/api/v1"


def test_it_uses_finnhub_news_alongside_synthetic_prices(settings):
    settings.FINNHUB_API_KEY = "token"
    assert isinstance(registry.market_data_provider(), SyntheticProvider)
    assert isinstance(registry.news_provider(), FinnhubNews)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MARKET_DATA_PROVIDER": "bloomberg"}, "not one of synthetic, csv, alpaca, finnhub"),
        ({"MARKET_DATA_PROVIDER": "csv"}, "needs MARKET_DATA_CSV_DIR"),
        (
            {"MARKET_DATA_PROVIDER": "csv", "MARKET_DATA_CSV_DIR": "/nowhere/at/all"},
            "does not exist",
        ),
        ({"MARKET_DATA_PROVIDER": "alpaca", "ALPACA_DATA_API_KEY": "k"}, "ALPACA_DATA_SECRET_KEY"),
        (
            {
                "MARKET_DATA_PROVIDER": "alpaca",
                "ALPACA_DATA_API_KEY": "k",
                "ALPACA_DATA_SECRET_KEY": "s",
                "ALPACA_DATA_FEED": "nasdaq",
            },
            "unknown Alpaca data feed",
        ),
        ({"MARKET_DATA_PROVIDER": "finnhub"}, "needs FINNHUB_API_KEY"),
        ({"MARKET_DATA_SEED": "forty-two"}, "MARKET_DATA_SEED must be an integer"),
    ],
)
def test_it_explains_a_bad_configuration(settings, overrides, message):
    for name, value in overrides.items():
        setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        registry.market_data_provider()


def test_it_has_no_second_table_of_defaults():
    assert not hasattr(registry, "DEFAULTS")


def _both_providers():
    return registry.build_market_data_provider(), registry.build_news_provider()


@pytest.mark.parametrize("name", ["MARKET_DATA_SEED", "MARKET_DATA_PROVIDER", "FINNHUB_API_KEY"])
def test_it_names_a_setting_the_settings_module_lacks(settings, name):
    delattr(settings, name)
    with pytest.raises(ImproperlyConfigured, match=f"{name} is not set in config/settings.py"):
        _both_providers()


def test_it_takes_no_feed_for_granted(settings):
    settings.MARKET_DATA_PROVIDER = "alpaca"
    settings.ALPACA_DATA_API_KEY, settings.ALPACA_DATA_SECRET_KEY = "k", "s"
    settings.ALPACA_DATA_FEED = ""
    with pytest.raises(ImproperlyConfigured, match="unknown Alpaca data feed ''"):
        registry.market_data_provider()
