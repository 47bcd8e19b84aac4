"""Datasets for backtests: an uploaded OHLCV CSV checked row by row, or a range fetched from a
market-data provider, stored as arrays (see `trading.models.Dataset`); and the reverse, a
dataset's bars as arrays for the engine."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from trading.marketdata.base import TIMEFRAME_DELTAS, MarketDataProvider, validate_timeframe
from trading.marketdata.frames import INTRADAY_MINUTES, resample
from trading.models import Dataset, DatasetSource

REQUIRED_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
COLUMN_ALIASES = {"date": "timestamp", "datetime": "timestamp", "time": "timestamp"}
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
MAX_BARS = 2_000_000
MAX_SYMBOL_LENGTH = 16


class DatasetError(ValueError):
    """Input that cannot become a dataset; `row` (1-based, the header is row 1) and `column`
    say where, when it is one place."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.row = row
        self.column = column


@dataclass
class Bars:
    open_seconds: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.open_seconds)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DatasetError(f"Unknown time zone {name!r}.", column="time_zone") from None


def _number(text: str, *, row: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(
            f"Row {row}, column {column}: {text!r} is not a number.", row=row, column=column
        ) from None
    if math.isnan(value) or math.isinf(value):
        raise DatasetError(f"Row {row}, column {column}: the value is NaN.", row=row, column=column)
    return value


def _timestamp(text: str, zone: ZoneInfo, *, row: int) -> int:
    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT or pd.isna(stamp):
        raise DatasetError(
            f"Row {row}, column timestamp: {text!r} is not a date or time.",
            row=row,
            column="timestamp",
        )
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(zone)
    return int(stamp.timestamp())


def parse_csv(content: bytes | str, *, time_zone: str = "UTC") -> Bars:
    """Check and read an OHLCV CSV: a header naming timestamp, open, high, low, close, volume;
    timestamps ascending and unique (naive ones in `time_zone`); prices positive numbers with
    high ≥ low. Raises DatasetError naming the first bad row and column."""
    zone = _zone(time_zone)
    reader = csv.reader(io.StringIO(_text(content)))
    names = _header(next(reader, None))
    where = {column: names.index(column) for column in REQUIRED_COLUMNS}
    seconds: list[int] = []
    values: list[tuple[float, ...]] = []
    for row_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        _check_row_length(row, names, row_number)
        stamp = _timestamp(row[where["timestamp"]], zone, row=row_number)
        if seconds and stamp <= seconds[-1]:
            kind = "a duplicate of" if stamp == seconds[-1] else "earlier than"
            raise DatasetError(
                f"Row {row_number}, column timestamp: {row[where['timestamp']]!r} is {kind} the "
                "row before; timestamps must be ascending and unique.",
                row=row_number,
                column="timestamp",
            )
        seconds.append(stamp)
        values.append(_bar(row, where, row_number))
        if len(seconds) > MAX_BARS:
            raise DatasetError(f"More than {MAX_BARS:,} bars; split the file.", row=row_number)
    if len(seconds) < 2:
        raise DatasetError("The file needs at least two bars.", row=2)
    table = np.array(values, dtype=np.float64)
    return Bars(np.array(seconds, dtype=np.int64), *table.T)


def _text(content: bytes | str) -> str:
    """The file as text (UTF-8, a byte-order mark dropped)."""
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("The file is not UTF-8 text (a CSV was expected).") from None


def _header(header: list[str] | None) -> list[str]:
    """The header's column names, aliases resolved; every required column must be there."""
    if not header:
        raise DatasetError("The file is empty; a CSV with a header row was expected.", row=1)
    names = [COLUMN_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        raise DatasetError(
            f"Row 1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the header needs {', '.join(REQUIRED_COLUMNS)}).",
            row=1,
            column=missing[0],
        )
    return names


def _check_row_length(row: list[str], names: list[str], row_number: int) -> None:
    if len(row) < len(names):
        column = names[len(row)]
        raise DatasetError(
            f"Row {row_number}, column {column}: the row has {len(row)} of {len(names)} columns.",
            row=row_number,
            column=column,
        )


def _bar(row: list[str], where: dict[str, int], row_number: int) -> tuple[float, ...]:
    """One row's open, high, low, close and volume: numbers, prices above zero, volume not
    negative, open and close within the low–high range."""
    bar = tuple(
        _number(row[where[column]], row=row_number, column=column)
        for column in ("open", "high", "low", "close", "volume")
    )
    for column, value in zip(("open", "high", "low", "close"), bar, strict=False):
        if value <= 0:
            raise DatasetError(
                f"Row {row_number}, column {column}: prices must be above zero (got {value:g}).",
                row=row_number,
                column=column,
            )
    if bar[4] < 0:
        raise DatasetError(
            f"Row {row_number}, column volume: volume cannot be negative.",
            row=row_number,
            column="volume",
        )
    open_, high, low, close = bar[:4]
    if high < low:
        raise DatasetError(
            f"Row {row_number}, column high: high {high:g} is below low {low:g}.",
            row=row_number,
            column="high",
        )
    if not (low <= open_ <= high and low <= close <= high):
        column = "open" if not low <= open_ <= high else "close"
        raise DatasetError(
            f"Row {row_number}, column {column}: {column} lies outside the bar's "
            f"low–high range ({low:g}–{high:g}).",
            row=row_number,
            column=column,
        )
    return bar


def detect_timeframe(open_seconds: np.ndarray) -> str:
    """The timeframe the bars' most common spacing says (daily when a day or more apart)."""
    gaps = np.diff(open_seconds)
    if not len(gaps):
        raise DatasetError("The file needs at least two bars.")
    step = int(np.bincount(np.minimum(gaps // 60, 1440)).argmax())
    for timeframe, delta in TIMEFRAME_DELTAS.items():
        if timeframe != "1d" and step == int(delta.total_seconds() // 60):
            return timeframe
    if step >= 1440 or step >= 6 * 60:
        return "1d"
    raise DatasetError(
        f"Bars are {step} minutes apart; datasets take 1m, 5m, 15m, 1h, 4h or 1d bars.",
        column="timestamp",
    )


def dataset_create_from_csv(
    *, owner, name: str, symbol: str, content: bytes | str, time_zone: str = "UTC"
) -> Dataset:
    symbol = _symbol(symbol)
    bars = parse_csv(content, time_zone=time_zone)
    timeframe = detect_timeframe(bars.open_seconds)
    return _save(owner, name or f"{symbol} {timeframe}", symbol, timeframe, bars, time_zone)


def dataset_create_from_provider(
    *,
    owner,
    provider: MarketDataProvider,
    source: str,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime,
    name: str = "",
) -> Dataset:
    """Fetch [start, end] of `symbol` × `timeframe` bars from a provider and store them."""
    symbol = _symbol(symbol)
    try:
        validate_timeframe(timeframe)
    except ValueError as error:
        raise DatasetError(str(error), column="timeframe") from None
    if end <= start:
        raise DatasetError("The range is empty: end must come after start.", column="end")
    span = (end - start).total_seconds()
    per_bar = TIMEFRAME_DELTAS[timeframe].total_seconds()
    limit = min(MAX_BARS, int(span // per_bar) + 2)
    frame = provider.bars(symbol, timeframe, end=end, limit=limit)
    frame = frame[frame.index >= pd.Timestamp(start)]
    if len(frame) < 2:
        raise DatasetError(
            f"The provider has fewer than two {timeframe} bars of {symbol} in that range.",
            column="start",
        )
    seconds = frame.index.asi8 // _unit(frame.index)
    bars = Bars(
        np.asarray(seconds, dtype=np.int64),
        *(frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")),
    )
    label = name or f"{symbol} {timeframe} {start:%Y-%m-%d}–{end:%Y-%m-%d}"
    return _save(owner, label, symbol, timeframe, bars, "UTC", source=source)


def _unit(index: pd.DatetimeIndex) -> int:
    return {"ns": 1_000_000_000, "us": 1_000_000, "ms": 1_000, "s": 1}[index.unit]


def _symbol(symbol: str) -> str:
    symbol = (symbol or "").strip().upper()
    if not symbol or len(symbol) > MAX_SYMBOL_LENGTH:
        raise DatasetError(
            "Give the symbol the bars are for (up to 16 characters).", column="symbol"
        )
    return symbol


def _save(owner, name, symbol, timeframe, bars: Bars, time_zone, *, source=DatasetSource.UPLOAD):
    return Dataset.objects.create(
        owner=owner,
        name=name[:120],
        symbol=symbol,
        timeframe=timeframe,
        source=source,
        source_time_zone=time_zone,
        bar_count=len(bars),
        starts_at=pd.Timestamp(int(bars.open_seconds[0]), unit="s", tz="UTC").to_pydatetime(),
        ends_at=pd.Timestamp(int(bars.open_seconds[-1]), unit="s", tz="UTC").to_pydatetime(),
        open_seconds=bars.open_seconds.astype("<i8").tobytes(),
        **{c: getattr(bars, c).astype("<f8").tobytes() for c in PRICE_COLUMNS},
    )


def dataset_bars(dataset: Dataset, timeframe: str | None = None) -> Bars:
    """The dataset's bars as arrays, resampled up to `timeframe` when it is coarser."""
    bars = Bars(
        np.frombuffer(bytes(dataset.open_seconds), dtype="<i8").astype(np.int64),
        *(
            np.frombuffer(bytes(getattr(dataset, c)), dtype="<f8").astype(np.float64)
            for c in PRICE_COLUMNS
        ),
    )
    if timeframe is None or timeframe == dataset.timeframe:
        return bars
    if dataset.timeframe == "1d" or dataset.timeframe not in INTRADAY_MINUTES:
        raise DatasetError(f"A {dataset.timeframe} dataset cannot give {timeframe} bars.")
    index = pd.DatetimeIndex((bars.open_seconds * 1_000_000_000).view("M8[ns]"), tz="UTC")
    frame = pd.DataFrame(
        {c: getattr(bars, c) for c in ("open", "high", "low", "close", "volume")}, index=index
    )
    coarse = resample(frame, timeframe, source_minutes=INTRADAY_MINUTES[dataset.timeframe])
    return Bars(
        coarse.index.asi8 // _unit(coarse.index),
        *(coarse[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")),
    )
