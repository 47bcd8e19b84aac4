"""A loopback fake of Alpaca's HTTP APIs for alpaca-py clients (market data today).

Point a client at it with `url_override=fake.url`. Market data lives under /v2/stocks/...;
the trading API (/v2/account, /v2/orders, /v2/positions) uses different paths, so it can be
added to this same server later: write `register_trading_routes(fake)` next to
`register_market_data_routes` and call it from FakeAlpaca.__init__, keeping account and order
state on the FakeAlpaca instance.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from trading.calendar import NEW_YORK, session_table
from trading.clock import Clock, SystemClock
from trading.marketdata.synthetic import SyntheticProvider
from trading.marketdata.universe import is_plain_ticker

# Alpaca's timeframe strings (alpaca-py's TimeFrame.value) -> our timeframes.
TIMEFRAMES = {
    "1Min": "1m",
    "5Min": "5m",
    "15Min": "15m",
    "1Hour": "1h",
    "4Hour": "4h",
    "1Day": "1d",
}
_BARS_PER_SESSION = {"1m": 390, "5m": 78, "15m": 26, "1h": 7, "4h": 2, "1d": 1}
_MAX_PAGE = 10_000


class FakeAlpaca(FakeHTTPServer):
    """Alpaca with fixed keys, serving SyntheticProvider(seed) data as of `clock.now()`."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        secret_key: str = "test-secret",  # noqa: S107 - a fake's fixed test credential
        seed: int = 42,
        clock: Clock | None = None,
    ):
        super().__init__()
        self.api_key = api_key
        self.secret_key = secret_key
        self.clock: Clock = clock or SystemClock()
        self.market = SyntheticProvider(seed=seed)
        self.page_size = _MAX_PAGE  # lower it to make alpaca-py follow next_page_token
        register_market_data_routes(self)

    def authorised(self, request: RecordedRequest) -> Response | None:
        """None when the key headers match, else the 403 Alpaca answers."""
        if (
            request.headers.get("apca-api-key-id") == self.api_key
            and request.headers.get("apca-api-secret-key") == self.secret_key
        ):
            return None
        return Response(403, {"message": "forbidden"})


def register_market_data_routes(fake: FakeAlpaca) -> None:
    fake.add_route("GET", r"/v2/stocks/bars", lambda request: _bars(fake, request))
    fake.add_route("GET", r"/v2/stocks/quotes/latest", lambda request: _latest(fake, request))


def _symbols(request: RecordedRequest) -> list[str]:
    return [s for s in (request.param("symbols") or "").split(",") if s]


def _invalid(symbols: list[str]) -> Response | None:
    bad = [s for s in symbols if not is_plain_ticker(s)]
    if not symbols:
        return Response(400, {"code": 40010001, "message": "symbols is required"})
    if bad:
        return Response(400, {"code": 40010001, "message": f"invalid symbol: {bad[0]}"})
    return None


def _parse_time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bars(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    denied = fake.authorised(request)
    if denied:
        return denied
    symbols = _symbols(request)
    invalid = _invalid(symbols)
    if invalid:
        return invalid
    timeframe = TIMEFRAMES.get(request.param("timeframe") or "")
    if timeframe is None:
        return Response(422, {"code": 42210000, "message": "invalid timeframe"})
    now = fake.clock.now()
    end = min(_parse_time(request.param("end"), now), now)
    start = _parse_time(request.param("start"), end.replace(hour=0, minute=0, second=0))
    limit = min(int(request.param("limit") or fake.page_size), fake.page_size)
    descending = request.param("sort") == "desc"
    offset = int(base64.b64decode(request.param("page_token") or "MA==").decode())

    table = session_table()
    sessions = table.index_at_or_before(end.timestamp()) - table.index_at_or_before(
        start.timestamp()
    )
    wanted = (sessions + 2) * _BARS_PER_SESSION[timeframe]
    rows: list[tuple[str, dict]] = []
    for symbol in sorted(set(symbols)):
        frame = fake.market.bars(symbol, timeframe, end=end, limit=wanted)
        frame = frame[frame.index >= start]
        symbol_rows = [(symbol, _bar_json(t, bar, timeframe)) for t, bar in frame.iterrows()]
        rows.extend(reversed(symbol_rows) if descending else symbol_rows)
    page = rows[offset : offset + limit]
    body: dict = {"bars": {}, "next_page_token": None}
    for symbol, bar in page:
        body["bars"].setdefault(symbol, []).append(bar)
    if offset + limit < len(rows):
        body["next_page_token"] = base64.b64encode(str(offset + limit).encode()).decode()
    return Response(body=body)


def _bar_json(stamp, bar, timeframe: str) -> dict:
    moment = stamp.to_pydatetime()
    if timeframe == "1d":
        # Alpaca stamps daily bars at midnight New York time.
        day = moment.astimezone(NEW_YORK).date()
        moment = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    typical = (bar["high"] + bar["low"] + bar["close"]) / 3
    return {
        "t": _rfc3339(moment),
        "o": bar["open"],
        "h": bar["high"],
        "l": bar["low"],
        "c": bar["close"],
        "v": int(bar["volume"]),
        "n": max(1, int(bar["volume"] // 150)),
        "vw": round(typical, 4),
    }


def _latest(fake: FakeAlpaca, request: RecordedRequest) -> Response:
    denied = fake.authorised(request)
    if denied:
        return denied
    symbols = _symbols(request)
    invalid = _invalid(symbols)
    if invalid:
        return invalid
    now = fake.clock.now()
    quotes = fake.market.quotes(symbols, at=now)
    body = {
        "quotes": {
            symbol: {
                "t": _rfc3339(quote.timestamp if quote.timestamp <= now else now),
                "ax": "V",
                "ap": quote.ask,
                "as": 2,
                "bx": "V",
                "bp": quote.bid,
                "bs": 3,
                "c": ["R"],
                "z": "C",
            }
            for symbol, quote in quotes.items()
        }
    }
    return Response(body=body)
