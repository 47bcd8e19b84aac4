"""A loopback fake of Finnhub's REST API (quote, stock candles, company news) for finnhub.Client.

Point a client at `fake.base_url` (the server URL plus /api/v1). Data comes from
SyntheticProvider(seed) and SyntheticNews(seed) as of `clock.now()`, so results can be compared
with the synthetic sources directly.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from trading.calendar import NEW_YORK, session_table
from trading.clock import Clock, SystemClock
from trading.marketdata.frames import bars_frame, frame_seconds
from trading.marketdata.news import SyntheticNews
from trading.marketdata.synthetic import SyntheticProvider
from trading.marketdata.universe import is_plain_ticker

# Finnhub resolution -> (synthetic timeframe to read, candle minutes); 30-minute candles are
# built from pairs of 15-minute bars.
RESOLUTIONS = {
    "1": ("1m", 1),
    "5": ("5m", 5),
    "15": ("15m", 15),
    "30": ("15m", 30),
    "60": ("1h", 60),
    "D": ("1d", 0),
}
_BARS_PER_SESSION = {"1m": 390, "5m": 78, "15m": 26, "1h": 7, "1d": 1}


class FakeFinnhub(FakeHTTPServer):
    """Finnhub with one valid token, serving synthetic quotes, candles and news."""

    def __init__(self, *, api_key: str = "test-token", seed: int = 42, clock: Clock | None = None):
        super().__init__()
        self.api_key = api_key
        self.clock: Clock = clock or SystemClock()
        self.market = SyntheticProvider(seed=seed)
        self.news = SyntheticNews(seed=seed)
        self.add_route("GET", r"/api/v1/quote", self._quote)
        self.add_route("GET", r"/api/v1/stock/candle", self._candles)
        self.add_route("GET", r"/api/v1/company-news", self._company_news)

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/v1"

    def authorised(self, request: RecordedRequest) -> Response | None:
        token = request.param("token") or request.headers.get("x-finnhub-token")
        if token == self.api_key:
            return None
        return Response(401, {"error": "Invalid API key"})

    def _quote(self, request: RecordedRequest) -> Response:
        denied = self.authorised(request)
        if denied:
            return denied
        symbol = request.param("symbol") or ""
        zeros = {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
        if not is_plain_ticker(symbol):
            return Response(body=zeros)  # Finnhub answers unknown symbols with zeros
        now = self.clock.now()
        quote = self.market.quotes([symbol], at=now)[symbol]
        day = self.market.bars(symbol, "1m", end=now, limit=390)
        table = session_table()
        session = table.index_at_or_before(now.timestamp())
        day = day[frame_seconds(day) >= table.open_list[session]]
        previous = self.market.bars(
            symbol, "1d", end=datetime.fromtimestamp(table.open_list[session], UTC), limit=1
        )
        previous_close = float(previous["close"].iloc[-1])
        if day.empty:
            open_ = high = low = quote.price
        else:
            open_ = float(day["open"].iloc[0])
            high = max(float(day["high"].max()), quote.price)
            low = min(float(day["low"].min()), quote.price)
        change = round(quote.price - previous_close, 4)
        return Response(
            body={
                "c": quote.price,
                "d": change,
                "dp": round(change / previous_close * 100, 4),
                "h": high,
                "l": low,
                "o": open_,
                "pc": previous_close,
                "t": int(quote.timestamp.timestamp()),
            }
        )

    def _candles(self, request: RecordedRequest) -> Response:
        denied = self.authorised(request)
        if denied:
            return denied
        symbol = request.param("symbol") or ""
        resolution = request.param("resolution") or ""
        if resolution not in RESOLUTIONS:
            return Response(422, {"error": f"Wrong resolution: {resolution}"})
        if not is_plain_ticker(symbol):
            return Response(body={"s": "no_data"})
        try:
            start = datetime.fromtimestamp(int(request.param("from") or 0), UTC)
            end = datetime.fromtimestamp(int(request.param("to") or 0), UTC)
        except ValueError:
            return Response(422, {"error": "from and to must be UNIX timestamps"})
        end = min(end, self.clock.now())
        timeframe, minutes = RESOLUTIONS[resolution]
        table = session_table()
        sessions = table.index_at_or_before(end.timestamp()) - table.index_at_or_before(
            start.timestamp()
        )
        frame = self.market.bars(
            symbol, timeframe, end=end, limit=(sessions + 2) * _BARS_PER_SESSION[timeframe]
        )
        frame = frame[frame.index >= start]
        if minutes == 30:
            frame = _join(frame, minutes)
        if frame.empty:
            return Response(body={"s": "no_data"})
        seconds = frame_seconds(frame)
        if timeframe == "1d":
            # Finnhub stamps daily candles at midnight UTC of the trading date.
            seconds = np.array(
                [
                    int(datetime.combine(d, time(), UTC).timestamp())
                    for d in frame.index.tz_convert(NEW_YORK).date
                ]
            )
        return Response(
            body={
                "s": "ok",
                "t": seconds.tolist(),
                "o": frame["open"].tolist(),
                "h": frame["high"].tolist(),
                "l": frame["low"].tolist(),
                "c": frame["close"].tolist(),
                "v": frame["volume"].astype(int).tolist(),
            }
        )

    def _company_news(self, request: RecordedRequest) -> Response:
        denied = self.authorised(request)
        if denied:
            return denied
        symbol = request.param("symbol") or ""
        try:
            first = date.fromisoformat(request.param("from") or "")
            last = date.fromisoformat(request.param("to") or "")
        except ValueError:
            return Response(422, {"error": "from and to must be YYYY-MM-DD"})
        since = datetime.combine(first, time(), NEW_YORK)
        until = datetime.combine(last + timedelta(days=1), time(), NEW_YORK)
        items = self.news.headlines([symbol], since=since, until=until)
        # Finnhub lists newest first.
        return Response(
            body=[
                {
                    "category": "company",
                    "datetime": int(h.published_at.timestamp()),
                    "headline": h.headline,
                    "id": zlib.crc32(h.url.encode()),
                    "image": "",
                    "related": h.symbol,
                    "source": h.source,
                    "summary": h.summary,
                    "url": h.url,
                }
                for h in reversed(items)
            ]
        )


def _join(frame, minutes: int):
    """Merge a session's consecutive bars into `minutes`-long ones counted from the open."""
    if frame.empty:
        return frame
    seconds = frame_seconds(frame)
    table = session_table()
    session_open = table.opens[np.searchsorted(table.opens, seconds, side="right") - 1]
    bucket = session_open + ((seconds - session_open) // (minutes * 60)) * minutes * 60
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    values = frame[["open", "high", "low", "close", "volume"]].to_numpy()
    aggregated = np.column_stack(
        [
            values[starts, 0],
            np.maximum.reduceat(values[:, 1], starts),
            np.minimum.reduceat(values[:, 2], starts),
            values[ends, 3],
            np.add.reduceat(values[:, 4], starts),
        ]
    )
    return bars_frame(bucket[starts], aggregated)
