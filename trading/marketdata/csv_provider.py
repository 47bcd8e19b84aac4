"""A provider reading OHLCV bars from a folder of CSV files (`AAPL_5m.csv`, or `AAPL.csv` = 1m)."""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from trading.calendar import session_table
from trading.marketdata.base import (
    BAR_COLUMNS,
    MarketDataError,
    MarketDataProvider,
    Quote,
    UnknownSymbol,
    validate_timeframe,
)
from trading.marketdata.frames import (
    INTRADAY_MINUTES,
    bar_closes,
    bars_frame,
    closed_bars,
    daily_stamp_days,
    frame_seconds,
    keep_session_bars,
    resample,
    session_of_day,
    session_of_intraday,
    to_seconds,
)

COLUMNS = ("timestamp", *BAR_COLUMNS)
_FILE_NAME = re.compile(
    r"(?P<symbol>[A-Z][A-Z0-9.\-]{0,14})(?:_(?P<timeframe>1m|5m|15m|1h|4h|1d))?"
)
_MINUTES = {**INTRADAY_MINUTES, "1d": 24 * 60}


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int]  # (mtime_ns, size) of the file when read
    frame: pd.DataFrame


class CsvProvider(MarketDataProvider):
    """Bars from `<SYMBOL>_<timeframe>.csv` files, or from 1-minute bars in `<SYMBOL>.csv`.

    Columns are `timestamp,open,high,low,close,volume`; timestamps are ISO 8601 with an offset,
    or naive meaning UTC; a daily file may hold plain dates. A timeframe with no file of its
    own is resampled, session-aligned, from the finest finer file of that symbol. Intraday
    rows outside regular sessions (pre/post-market) are ignored. Files are re-read when they
    change on disk.
    """

    name = "csv"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise MarketDataError(f"CSV market data folder {self.folder} does not exist")
        self._lock = threading.Lock()
        self._listing: tuple[int, dict[str, dict[str, Path]]] | None = None
        self._loaded: dict[tuple[Path, str], _Loaded] = {}

    def __repr__(self) -> str:
        return f"CsvProvider({str(self.folder)!r})"

    # -- public interface ------------------------------------------------------------------

    def universe(self) -> list[str]:
        return sorted(self._files())

    def bars(self, symbol: str, timeframe: str, *, end: datetime, limit: int = 300) -> pd.DataFrame:
        validate_timeframe(timeframe)
        to_seconds(end)
        return closed_bars(self._frame(symbol, timeframe), timeframe, end=end, limit=limit)

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        at_seconds = to_seconds(at)
        files = self._files()
        result: dict[str, Quote] = {}
        for symbol in symbols:
            if symbol not in files or symbol in result:
                continue
            quote = self._quote(symbol, files[symbol], at_seconds)
            if quote is not None:
                result[symbol] = quote
        return result

    # -- files -----------------------------------------------------------------------------

    def _files(self) -> dict[str, dict[str, Path]]:
        """symbol -> timeframe -> file, re-scanned when the folder changes."""
        try:
            folder_stamp = self.folder.stat().st_mtime_ns
        except OSError as exc:
            raise MarketDataError(
                f"cannot read CSV market data folder {self.folder}: {exc}"
            ) from exc
        listing = self._listing
        if listing is not None and listing[0] == folder_stamp:
            return listing[1]
        files: dict[str, dict[str, Path]] = {}
        for path in sorted(self.folder.glob("*.csv")):
            match = _FILE_NAME.fullmatch(path.stem)
            if match is None:
                continue
            timeframe = match["timeframe"] or "1m"
            sources = files.setdefault(match["symbol"], {})
            # An explicit AAPL_1m.csv wins over the bare AAPL.csv.
            if match["timeframe"] or timeframe not in sources:
                sources[timeframe] = path
        self._listing = (folder_stamp, files)
        return files

    def _sources(self, symbol: str) -> dict[str, Path]:
        sources = self._files().get(symbol)
        if not sources:
            raise UnknownSymbol(f"no CSV file for {symbol!r} in {self.folder}")
        return sources

    def _frame(self, symbol: str, timeframe: str) -> pd.DataFrame:
        sources = self._sources(symbol)
        if timeframe in sources:
            return self._load(sources[timeframe], timeframe, timeframe)
        finer = [tf for tf in sources if _MINUTES[tf] < _MINUTES[timeframe] and tf != "1d"]
        if not finer:
            available = ", ".join(sorted(sources, key=_MINUTES.__getitem__))
            raise MarketDataError(
                f"no {timeframe} bars for {symbol} in {self.folder}: add {symbol}_{timeframe}.csv "
                f"or finer bars (found {available})"
            )
        source = min(finer, key=_MINUTES.__getitem__)
        return self._load(sources[source], source, timeframe)

    def _load(self, path: Path, source_timeframe: str, timeframe: str) -> pd.DataFrame:
        """The file's bars as `timeframe` (resampled when coarser), cached until it changes."""
        try:
            status = path.stat()
        except OSError as exc:
            raise MarketDataError(f"cannot read {path}: {exc}") from exc
        stamp = (status.st_mtime_ns, status.st_size)
        key = (path, timeframe)
        loaded = self._loaded.get(key)
        if loaded is not None and loaded.stamp == stamp:
            return loaded.frame
        if source_timeframe == timeframe:
            frame = parse_bars_csv(path, timeframe)
        else:
            frame = resample(
                self._load(path, source_timeframe, source_timeframe),
                timeframe,
                source_minutes=INTRADAY_MINUTES[source_timeframe],
            )
        with self._lock:
            self._loaded[key] = _Loaded(stamp, frame)
        return frame

    def _quote(self, symbol: str, sources: dict[str, Path], at_seconds: float) -> Quote | None:
        """The last close at or before `at`, from the symbol's finest file."""
        timeframe = min(sources, key=_MINUTES.__getitem__)
        frame = self._load(sources[timeframe], timeframe, timeframe)
        if frame.empty:
            return None
        seconds = frame_seconds(frame)
        closes = bar_closes(seconds, timeframe)
        count = int(np.searchsorted(closes, at_seconds, side="right"))
        if count == 0:
            return None
        last = count - 1
        if timeframe == "1d":
            volume = frame["volume"].iat[last]
        else:
            # Volume traded so far in that bar's session.
            session = session_of_intraday(seconds[last : last + 1], _MINUTES[timeframe] * 60)[0]
            first = int(np.searchsorted(seconds, session_table().opens[session], side="left"))
            volume = frame["volume"].iloc[first:count].sum()
        price = float(frame["close"].iat[last])
        return Quote(
            symbol=symbol,
            price=price,
            bid=price,
            ask=price,
            volume=int(volume),
            timestamp=datetime.fromtimestamp(int(closes[last]), UTC),
        )


def parse_bars_csv(path: Path, timeframe: str) -> pd.DataFrame:
    """Read and validate one bars file; errors name the file, line and column."""
    raw = _read_raw(path)
    lines = np.arange(len(raw)) + 2  # line 1 is the header
    blank = (raw == "").all(axis=1).to_numpy()
    raw, lines = raw[~blank], lines[~blank]
    stamps = _timestamps(path, raw, lines)
    values = _bar_values(path, raw, lines)
    seconds = pd.DatetimeIndex(stamps).as_unit("ns").asi8 // 1_000_000_000
    not_after = np.flatnonzero(np.diff(seconds) <= 0)
    if len(not_after):
        row = int(not_after[0]) + 1
        raise MarketDataError(
            f"{path}: line {lines[row]}, column timestamp: {raw['timestamp'].iloc[row]!r} "
            "is not after the previous row's; rows must be in ascending time order"
        )
    if timeframe == "1d":
        sessions = session_of_day(daily_stamp_days(seconds))
        bad = sessions < 0
        if bad.any():
            row = int(np.argmax(bad))
            raise MarketDataError(
                f"{path}: line {lines[row]}, column timestamp: {raw['timestamp'].iloc[row]!r} "
                "is not an XNYS trading day"
            )
        return bars_frame(session_table().opens[sessions], values)
    return keep_session_bars(bars_frame(seconds, values), INTRADAY_MINUTES[timeframe])


def _read_raw(path: Path) -> pd.DataFrame:
    """The file's COLUMNS as text, header names trimmed and lower-cased."""
    try:
        with warnings.catch_warnings():
            # pandas only warns when the first data row has extra fields; make it an error.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                skipinitialspace=True,
                index_col=False,  # a row with extra fields is an error, not an index column
            )
    except pd.errors.EmptyDataError:
        raise MarketDataError(f"{path}: the file is empty; expected a header line") from None
    except pd.errors.ParserWarning:
        raise MarketDataError(
            f"{path}: cannot parse as CSV: line 2 has more fields than the header"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise MarketDataError(f"{path}: cannot parse as CSV: {exc}") from exc
    raw.columns = [str(column).strip().lower() for column in raw.columns]
    missing = [column for column in COLUMNS if column not in raw.columns]
    if missing:
        raise MarketDataError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; "
            f"the header must name {','.join(COLUMNS)}"
        )
    return raw[list(COLUMNS)]


FIRST_YEAR, LAST_YEAR = 1800, 2200  # the bars a market could have printed


def _timestamps(path: Path, raw: pd.DataFrame, lines: np.ndarray) -> pd.Series:
    """Each row's ISO 8601 timestamp, in UTC."""
    stamps = pd.to_datetime(raw["timestamp"], utc=True, format="ISO8601", errors="coerce")
    # "-1" parses as the year -1, which no market traded in and pandas cannot carry further.
    years = stamps.dt.year
    bad = (stamps.isna() | (years < FIRST_YEAR) | (years > LAST_YEAR)).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise MarketDataError(
            f"{path}: line {lines[row]}, column timestamp: {raw['timestamp'].iloc[row]!r} "
            f"is not an ISO 8601 timestamp between {FIRST_YEAR} and {LAST_YEAR}"
        )
    return stamps


def _bar_values(path: Path, raw: pd.DataFrame, lines: np.ndarray) -> np.ndarray:
    """The BAR_COLUMNS as floats: non-negative numbers whose high and low contain open and
    close."""
    values = np.empty((len(raw), len(BAR_COLUMNS)))
    for position, column in enumerate(BAR_COLUMNS):
        numbers = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numbers) | (numbers < 0)
        if bad.any():
            row = int(np.argmax(bad))
            raise MarketDataError(
                f"{path}: line {lines[row]}, column {column}: {raw[column].iloc[row]!r} "
                "is not a non-negative number"
            )
        values[:, position] = numbers
    open_, high, low, close = values[:, 0], values[:, 1], values[:, 2], values[:, 3]
    inconsistent = (high < np.maximum(open_, close)) | (low > np.minimum(open_, close))
    inconsistent |= low > high
    if inconsistent.any():
        row = int(np.argmax(inconsistent))
        raise MarketDataError(
            f"{path}: line {lines[row]}: high/low do not contain open/close "
            f"(open={open_[row]}, high={high[row]}, low={low[row]}, close={close[row]})"
        )
    return values
