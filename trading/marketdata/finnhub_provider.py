"""Market data and company news from Finnhub through the finnhub-python client."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import finnhub
import numpy as np
import pandas as pd
import requests
from finnhub.exceptions import FinnhubAPIException, FinnhubRequestException

from trading.marketdata.base import (
    Headline,
    MarketDataError,
    MarketDataProvider,
    NewsProvider,
    Quote,
    validate_timeframe,
)
from trading.marketdata.frames import (
    bars_frame,
    closed_bars,
    empty_bars,
    lookback_start,
    normalise_daily,
    resample,
    to_seconds,
)

# Finnhub candle resolutions. It has no 4-hour candles, and its hour candles' alignment is not
# documented, so 1h and 4h are built from 30-minute candles, which line up with the 09:30 open.
RESOLUTIONS: dict[str, tuple[str, int]] = {
    "1m": ("1", 1),
    "5m": ("5", 5),
    "15m": ("15", 15),
    "1h": ("30", 30),
    "4h": ("30", 30),
    "1d": ("D", 0),
}
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FinnhubClient:
    """finnhub.Client calls with retries, clear errors and a bounded pool for fan-out.

    429 and 5xx responses and connection errors are retried `retries` times with exponential
    backoff (honouring Retry-After, capped at `max_wait`); 401/403 fail at once.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        max_workers: int = 8,
        retries: int = 2,
        backoff: float = 0.5,
        max_wait: float = 10.0,
        timeout: float = 10.0,
    ):
        if not api_key:
            raise MarketDataError("Finnhub needs an API key (FINNHUB_API_KEY)")
        self._api_key = api_key
        self.base_url = (base_url or finnhub.Client.API_URL).rstrip("/")
        self.max_workers = max(1, max_workers)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def client(self) -> finnhub.Client:
        """This thread's finnhub.Client (each wraps a requests.Session, not shared)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = finnhub.Client(api_key=self._api_key)
            # The client reads API_URL from the instance, so this points just this one at us.
            client.API_URL = self.base_url
            client.DEFAULT_TIMEOUT = self.timeout
            self._local.client = client
        return client

    def call(self, what: str, method: str, *args, **kwargs):
        attempt = 0
        while True:
            try:
                return getattr(self.client(), method)(*args, **kwargs)
            except FinnhubAPIException as exc:
                status = exc.status_code
                if status in (401, 403):
                    raise MarketDataError("Finnhub rejected the API key") from exc
                if status in _RETRY_STATUSES and attempt < self.retries:
                    self._sleep(attempt, exc.response)
                    attempt += 1
                    continue
                detail = str(getattr(exc, "message", "") or "").strip() or "no details"
                suffix = f" after {attempt + 1} attempts" if attempt else ""
                raise MarketDataError(
                    f"Finnhub {what} failed{suffix} (HTTP {status}): {detail}"
                ) from exc
            except FinnhubRequestException as exc:
                raise MarketDataError(f"Finnhub returned an unexpected {what} response") from exc
            except requests.RequestException as exc:
                if attempt < self.retries:
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                raise MarketDataError(f"could not reach Finnhub at {self.base_url}: {exc}") from exc

    def _sleep(self, attempt: int, response) -> None:
        wait = self.backoff * (2**attempt)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after:
            with contextlib.suppress(ValueError):  # an HTTP date: keep our own backoff
                wait = max(wait, float(retry_after))
        time.sleep(min(wait, self.max_wait))

    def map(self, function, items: list):
        """`function` over `items` on the bounded pool, results in order; the first error wins."""
        if len(items) <= 1:
            return [function(item) for item in items]
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_workers, thread_name_prefix="finnhub"
                )
            executor = self._executor
        return list(executor.map(function, items))

    def close(self) -> None:
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None


class FinnhubProvider(MarketDataProvider):
    """Candles and quotes from Finnhub. Quotes fan out one /quote call per symbol, concurrently.

    Finnhub quotes carry no bid/ask or volume: bid = ask = price and volume = 0. `at` is
    ignored by `quotes` (they are live). Unknown symbols (Finnhub answers zeros) are left out.
    """

    name = "finnhub"

    def __init__(self, api_key: str, *, base_url: str | None = None, **client_options):
        self.http = FinnhubClient(api_key, base_url=base_url, **client_options)

    def __repr__(self) -> str:
        return f"FinnhubProvider(base_url={self.http.base_url!r})"

    def bars(self, symbol: str, timeframe: str, *, end: datetime, limit: int = 300) -> pd.DataFrame:
        validate_timeframe(timeframe)
        end_seconds = to_seconds(end)
        if limit <= 0:
            return empty_bars()
        resolution, minutes = RESOLUTIONS[timeframe]
        start = lookback_start(timeframe, end, limit)
        payload = self.http.call(
            "candles",
            "stock_candles",
            symbol,
            resolution,
            int(start.timestamp()),
            int(end_seconds),
        )
        frame = _candles_frame(payload, symbol)
        if frame.empty:
            return frame
        if timeframe == "1d":
            frame = normalise_daily(frame)
        else:
            frame = resample(frame, timeframe, source_minutes=minutes)
        return closed_bars(frame, timeframe, end=end, limit=limit)

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        wanted = list(dict.fromkeys(s for s in symbols if isinstance(s, str) and s))
        answers = self.http.map(lambda s: self.http.call("quote", "quote", s), wanted)
        result: dict[str, Quote] = {}
        for symbol, answer in zip(wanted, answers, strict=True):
            if not isinstance(answer, dict):
                continue
            price, stamp = float(answer.get("c") or 0), int(answer.get("t") or 0)
            if price <= 0 or stamp <= 0:
                continue  # Finnhub answers an unknown symbol with zeros
            result[symbol] = Quote(
                symbol=symbol,
                price=price,
                bid=price,
                ask=price,
                volume=0,
                timestamp=datetime.fromtimestamp(stamp, UTC),
            )
        return result


class FinnhubNews(NewsProvider):
    """Company news per symbol from Finnhub's /company-news, fetched concurrently."""

    name = "finnhub"

    def __init__(self, api_key: str, *, base_url: str | None = None, **client_options):
        self.http = FinnhubClient(api_key, base_url=base_url, **client_options)

    def headlines(self, symbols: list[str], *, since: datetime, until: datetime) -> list[Headline]:
        since_seconds, until_seconds = to_seconds(since), to_seconds(until)
        wanted = list(dict.fromkeys(s for s in symbols if isinstance(s, str) and s))
        # /company-news takes whole dates; widen by a day and filter precisely afterwards.
        first = (since.astimezone(UTC) - timedelta(days=1)).date().isoformat()
        last = (until.astimezone(UTC) + timedelta(days=1)).date().isoformat()
        answers = self.http.map(
            lambda s: self.http.call("company news", "company_news", s, _from=first, to=last),
            wanted,
        )
        headlines: list[Headline] = []
        seen: set[tuple[str, object]] = set()
        for symbol, items in zip(wanted, answers, strict=True):
            for item in items if isinstance(items, list) else []:
                stamp = int(item.get("datetime") or 0)
                if not (since_seconds <= stamp < until_seconds):
                    continue
                key = (symbol, item.get("id") or item.get("url") or item.get("headline"))
                if key in seen:
                    continue
                seen.add(key)
                category = str(item.get("category") or "").strip()
                headlines.append(
                    Headline(
                        symbol=symbol,
                        headline=str(item.get("headline") or ""),
                        summary=str(item.get("summary") or ""),
                        source=str(item.get("source") or "Finnhub"),
                        url=str(item.get("url") or ""),
                        published_at=datetime.fromtimestamp(stamp, UTC),
                        tags=(category,) if category else (),
                    )
                )
        headlines.sort(key=lambda h: (h.published_at, h.symbol))
        return headlines


def _candles_frame(payload, symbol: str) -> pd.DataFrame:
    if not isinstance(payload, dict):
        raise MarketDataError(f"Finnhub returned unexpected candles for {symbol}")
    status = payload.get("s")
    if status == "no_data":
        return empty_bars()
    if status != "ok":
        raise MarketDataError(f"Finnhub candles for {symbol} came back with status {status!r}")
    try:
        seconds = np.asarray(payload["t"], dtype=np.int64)
        values = np.column_stack(
            [np.asarray(payload[key], dtype=np.float64) for key in ("o", "h", "l", "c", "v")]
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise MarketDataError(f"Finnhub candles for {symbol} are malformed: {exc}") from exc
    order = np.argsort(seconds, kind="stable")
    return bars_frame(seconds[order], values[order])
