"""The process-wide market-data and news providers, built once from Django settings."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from trading.marketdata.base import MarketDataError, MarketDataProvider, NewsProvider

PROVIDER_NAMES = ("synthetic", "csv", "alpaca", "finnhub")

# Every setting this package reads, with its default. Only this module reads settings.
DEFAULTS: dict[str, object] = {
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

_lock = threading.Lock()
_market_data: MarketDataProvider | None = None
_news: NewsProvider | None = None


def _setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


def _text(name: str) -> str:
    value = _setting(name)
    return "" if value is None else str(value).strip()


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
    value = _setting("MARKET_DATA_SEED")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"MARKET_DATA_SEED must be an integer, got {value!r}") from None


def build_market_data_provider() -> MarketDataProvider:
    """A new provider from settings; a bad configuration raises ImproperlyConfigured."""
    try:
        return _build_market_data_provider()
    except MarketDataError as exc:  # e.g. a missing CSV folder or an unknown Alpaca feed
        raise ImproperlyConfigured(str(exc)) from exc


def _build_market_data_provider() -> MarketDataProvider:
    name = _text("MARKET_DATA_PROVIDER").lower() or "synthetic"
    if name == "synthetic":
        from trading.marketdata.synthetic import SyntheticProvider

        return SyntheticProvider(seed=_seed())
    if name == "csv":
        from trading.marketdata.csv_provider import CsvProvider

        folder = _text("MARKET_DATA_CSV_DIR")
        if not folder:
            raise ImproperlyConfigured("MARKET_DATA_PROVIDER=csv needs MARKET_DATA_CSV_DIR")
        return CsvProvider(folder)
    if name == "alpaca":
        from trading.marketdata.alpaca_provider import AlpacaProvider

        key, secret = _text("ALPACA_DATA_API_KEY"), _text("ALPACA_DATA_SECRET_KEY")
        if not key or not secret:
            raise ImproperlyConfigured(
                "MARKET_DATA_PROVIDER=alpaca needs ALPACA_DATA_API_KEY and ALPACA_DATA_SECRET_KEY"
            )
        return AlpacaProvider(
            key,
            secret,
            url_override=_text("ALPACA_DATA_URL") or None,
            feed=_text("ALPACA_DATA_FEED") or "iex",
        )
    if name == "finnhub":
        from trading.marketdata.finnhub_provider import FinnhubProvider

        key = _text("FINNHUB_API_KEY")
        if not key:
            raise ImproperlyConfigured("MARKET_DATA_PROVIDER=finnhub needs FINNHUB_API_KEY")
        return FinnhubProvider(key, base_url=_text("FINNHUB_BASE_URL") or None)
    raise ImproperlyConfigured(
        f"MARKET_DATA_PROVIDER={name!r} is not one of {', '.join(PROVIDER_NAMES)}"
    )


def build_news_provider() -> NewsProvider:
    """A new news provider from settings."""
    key = _text("FINNHUB_API_KEY")
    if key:
        from trading.marketdata.finnhub_provider import FinnhubNews

        return FinnhubNews(key, base_url=_text("FINNHUB_BASE_URL") or None)
    from trading.marketdata.news import SyntheticNews

    return SyntheticNews(seed=_seed())
