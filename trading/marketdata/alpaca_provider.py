"""Market data from Alpaca's Market Data API v2 through alpaca-py's StockHistoricalDataClient."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from trading.marketdata.base import (
    MarketDataError,
    MarketDataProvider,
    Quote,
    validate_timeframe,
)
from trading.marketdata.frames import (
    INTRADAY_MINUTES,
    bars_frame,
    closed_bars,
    empty_bars,
    keep_session_bars,
    lookback_start,
    normalise_daily,
    to_seconds,
)

ALPACA_TIMEFRAMES: dict[str, TimeFrame] = {
    "1m": TimeFrame(1, TimeFrameUnit.Minute),
    "5m": TimeFrame(5, TimeFrameUnit.Minute),
    "15m": TimeFrame(15, TimeFrameUnit.Minute),
    "1h": TimeFrame(1, TimeFrameUnit.Hour),
    "4h": TimeFrame(4, TimeFrameUnit.Hour),
    "1d": TimeFrame(1, TimeFrameUnit.Day),
}
_MAX_FETCH = 10_000  # Alpaca's page size; alpaca-py follows next_page_token beyond it


class AlpacaProvider(MarketDataProvider):
    """Bars and batch latest quotes from Alpaca (`feed` "iex" on free plans, "sip" when paid).

    Alpaca's intraday bars include pre- and post-market trading; bars wholly outside regular
    sessions are dropped. Its hour bars are aligned to clock hours (09:00-10:00 New York),
    not to the 09:30 open as the synthetic and CSV providers' are. Daily bars are re-stamped
    at their session's open. Prices are split-adjusted. Latest quotes carry no volume (0).
    """

    name = "alpaca"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        url_override: str | None = None,
        feed: str = "iex",
    ):
        if not api_key or not secret_key:
            raise MarketDataError("Alpaca market data needs both an API key and a secret key")
        try:
            self.feed = DataFeed(feed.lower())
        except ValueError:
            feeds = ", ".join(f.value for f in DataFeed)
            raise MarketDataError(
                f"unknown Alpaca data feed {feed!r}; use one of {feeds}"
            ) from None
        self._api_key = api_key
        self._secret_key = secret_key
        self.url_override = url_override.rstrip("/") if url_override else None
        # requests.Session is not documented as thread-safe, so each thread gets its own client.
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"AlpacaProvider(feed={self.feed.value!r}, url_override={self.url_override!r})"

    def _client(self) -> StockHistoricalDataClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = StockHistoricalDataClient(
                self._api_key, self._secret_key, url_override=self.url_override
            )
            self._local.client = client
        return client

    # -- public interface ------------------------------------------------------------------

    def bars(self, symbol: str, timeframe: str, *, end: datetime, limit: int = 300) -> pd.DataFrame:
        validate_timeframe(timeframe)
        to_seconds(end)
        if limit <= 0:
            return empty_bars()
        # Ask for the newest bars first and enough of them to survive dropping extended-hours
        # bars (a session is 6.5 of Alpaca's 16 trading hours) and the still-forming bar.
        fetch = limit + 5 if timeframe == "1d" else limit * 3 + 10
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=ALPACA_TIMEFRAMES[timeframe],
            start=lookback_start(timeframe, end, limit),
            end=end,
            limit=min(fetch, _MAX_FETCH),
            sort=Sort.DESC,
            feed=self.feed,
            adjustment=Adjustment.SPLIT,
        )
        barset = self._call("bars", lambda: self._client().get_stock_bars(request))
        rows = barset.data.get(symbol, [])
        if not rows:
            return empty_bars()
        rows = sorted(rows, key=lambda bar: bar.timestamp)
        seconds = np.array([int(bar.timestamp.timestamp()) for bar in rows], dtype=np.int64)
        values = np.array(
            [[bar.open, bar.high, bar.low, bar.close, bar.volume] for bar in rows],
            dtype=np.float64,
        )
        frame = bars_frame(seconds, values)
        if timeframe == "1d":
            frame = normalise_daily(frame)
        else:
            frame = keep_session_bars(frame, INTRADAY_MINUTES[timeframe])
        return closed_bars(frame, timeframe, end=end, limit=limit)

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        """Latest quotes for all symbols in one request; `at` is ignored (they are live)."""
        wanted = list(dict.fromkeys(s for s in symbols if isinstance(s, str) and s))
        if not wanted:
            return {}
        request = StockLatestQuoteRequest(symbol_or_symbols=wanted, feed=self.feed)
        latest = self._call("latest quotes", lambda: self._client().get_stock_latest_quote(request))
        result: dict[str, Quote] = {}
        for symbol in wanted:
            quote = latest.get(symbol)
            if quote is None:
                continue
            bid, ask = float(quote.bid_price or 0), float(quote.ask_price or 0)
            if bid > 0 and ask > 0:
                price = round((bid + ask) / 2, 4)
            elif bid > 0 or ask > 0:
                price = max(bid, ask)
            else:
                continue  # no market: leave it out like an unknown symbol
            result[symbol] = Quote(
                symbol=symbol,
                price=price,
                bid=bid or price,
                ask=ask or price,
                volume=0,
                timestamp=quote.timestamp.astimezone(UTC),
            )
        return result

    # -- errors ----------------------------------------------------------------------------

    def _call(self, what: str, call):
        """Run one alpaca-py call, turning its errors into MarketDataError with a clear cause."""
        try:
            return call()
        except APIError as exc:
            status = exc.status_code
            detail = _api_error_message(exc)
            if status in (401, 403):
                raise MarketDataError(
                    f"Alpaca rejected the API key (HTTP {status}: {detail}); check "
                    "ALPACA_DATA_API_KEY / ALPACA_DATA_SECRET_KEY and the feed's subscription"
                ) from exc
            if status == 429:
                raise MarketDataError(
                    f"Alpaca rate limit hit while fetching {what}; alpaca-py already retried"
                ) from exc
            raise MarketDataError(
                f"Alpaca {what} request failed (HTTP {status}): {detail}"
            ) from exc
        except requests.RequestException as exc:
            where = self.url_override or "data.alpaca.markets"
            raise MarketDataError(f"could not reach Alpaca market data at {where}: {exc}") from exc
        except ValueError as exc:  # alpaca-py's response parsing
            raise MarketDataError(f"Alpaca returned an unexpected {what} response: {exc}") from exc


def _api_error_message(exc: APIError) -> str:
    text = str(exc)
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no details"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]
