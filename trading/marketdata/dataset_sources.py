"""Where a dataset's bars are fetched from: the configured (synthetic) provider, or Alpaca's
historical bars through alpaca-py with the trader's own Alpaca connection."""

from __future__ import annotations

from trading.marketdata.base import MarketDataProvider
from trading.marketdata.datasets import DatasetError
from trading.models import DatasetSource

FETCH_SOURCES = (DatasetSource.SYNTHETIC, DatasetSource.ALPACA)


def dataset_provider(*, owner, source: str) -> MarketDataProvider:
    """The provider a fetch for `owner` reads; DatasetError naming `source` when the trader has
    no Alpaca connection to fetch with."""
    if source == DatasetSource.SYNTHETIC:
        from trading.marketdata.registry import market_data_provider

        return market_data_provider()
    if source != DatasetSource.ALPACA:
        raise DatasetError(f"Fetch from {', '.join(FETCH_SOURCES)}.", column="source")
    from accounts.models import BrokerConnection
    from trading.marketdata.alpaca_provider import AlpacaProvider
    from trading.marketdata.registry import alpaca_data_endpoint

    # Paper and live keys both read market data.
    connection = (
        BrokerConnection.objects.filter(owner=owner, broker="alpaca")
        .order_by("account_type")  # "live" sorts before "paper": the live plan sees more
        .first()
    )
    if connection is None:
        raise DatasetError(
            "Connect an Alpaca account (Settings → Broker connections) to fetch its "
            "historical bars.",
            column="source",
        )
    url_override, feed = alpaca_data_endpoint()
    return AlpacaProvider(
        connection.api_key, connection.api_secret, url_override=url_override, feed=feed
    )
