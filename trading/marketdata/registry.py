"""The process-wide market-data and news providers, built once from Django settings.

The only trading module that reads the market-data settings; their defaults live in
config/settings.py alone (a missing one is ImproperlyConfigured, naming it)."""

from __future__ import annotations

import threading

from django.core.exceptions import ImproperlyConfigured

from config.core.conf import int_setting, text_setting
from trading.marketdata.base import MarketDataError, MarketDataProvider, NewsProvider

PROVIDER_NAMES = ("synthetic", "csv", "alpaca", "finnhub")

_lock = threading.Lock()
_market_data: MarketDataProvider | None = None
_news: NewsProvider | None = None


def market_data_provider() -> MarketDataProvider:
    """The configured provider (MARKET_DATA_PROVIDER), built on first use and then shared."""
    global _market_data
    provider = _market_data
    if provider is None:
        with _lock:
            if _market_data is None:
                _market_data = build_market_data_provider()
            provider = _market_data
    return provider


def news_provider() -> NewsProvider:
    """Finnhub company news when FINNHUB_API_KEY is set, else deterministic synthetic news."""
    global _news
    provider = _news
    if provider is None:
        with _lock:
            if _news is None:
                _news = build_news_provider()
            provider = _news
    return provider


def reset_providers() -> None:
    """Forget the shared providers so the next call rebuilds them (tests, settings changes)."""
    global _market_data, _news
    with _lock:
        for provider in (_market_data, _news):
            http = getattr(provider, "http", None)  # Finnhub keeps a thread pool
            if http is not None:
                http.close()
        _market_data = None
        _news = None


def _seed() -> int:
    return int_setting("MARKET_DATA_SEED")


def alpaca_data_endpoint() -> tuple[str | None, str]:
    """(ALPACA_DATA_URL, or None for alpaca-py's own; ALPACA_DATA_FEED) for Alpaca's bars."""
    return text_setting("ALPACA_DATA_URL") or None, text_setting("ALPACA_DATA_FEED")


def build_market_data_provider() -> MarketDataProvider:
    """A new provider from settings; a bad configuration raises ImproperlyConfigured."""
    try:
        return _build_market_data_provider()
    except MarketDataError as exc:  # e.g. a missing CSV folder or an unknown Alpaca feed
        raise ImproperlyConfigured(str(exc)) from exc


def _build_market_data_provider() -> MarketDataProvider:
    name = text_setting("MARKET_DATA_PROVIDER").lower()
    if name == "synthetic":
        from trading.marketdata.synthetic import SyntheticProvider

        return SyntheticProvider(seed=_seed())
    if name == "csv":
        from trading.marketdata.csv_provider import CsvProvider

        folder = text_setting("MARKET_DATA_CSV_DIR")
        if not folder:
            raise ImproperlyConfigured("MARKET_DATA_PROVIDER=csv needs MARKET_DATA_CSV_DIR")
        return CsvProvider(folder)
    if name == "alpaca":
        from trading.marketdata.alpaca_provider import AlpacaProvider

        key, secret = text_setting("ALPACA_DATA_API_KEY"), text_setting("ALPACA_DATA_SECRET_KEY")
        if not key or not secret:
            raise ImproperlyConfigured(
                "MARKET_DATA_PROVIDER=alpaca needs ALPACA_DATA_API_KEY and ALPACA_DATA_SECRET_KEY"
            )
        url_override, feed = alpaca_data_endpoint()
        return AlpacaProvider(key, secret, url_override=url_override, feed=feed)
    if name == "finnhub":
        from trading.marketdata.finnhub_provider import FinnhubProvider

        key = text_setting("FINNHUB_API_KEY")
        if not key:
            raise ImproperlyConfigured("MARKET_DATA_PROVIDER=finnhub needs FINNHUB_API_KEY")
        return FinnhubProvider(key, base_url=text_setting("FINNHUB_BASE_URL") or None)
    raise ImproperlyConfigured(
        f"MARKET_DATA_PROVIDER={name!r} is not one of {', '.join(PROVIDER_NAMES)}"
    )


def build_news_provider() -> NewsProvider:
    """A new news provider from settings."""
    key = text_setting("FINNHUB_API_KEY")
    if key:
        from trading.marketdata.finnhub_provider import FinnhubNews

        return FinnhubNews(key, base_url=text_setting("FINNHUB_BASE_URL") or None)
    from trading.marketdata.news import SyntheticNews

    return SyntheticNews(seed=_seed())
