"""The CSV provider: file naming, resampling to session-aligned bars, quotes, malformed files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from trading.calendar import NEW_YORK
from trading.marketdata.base import MarketDataError, UnknownSymbol
from trading.marketdata.csv_provider import CsvProvider

MONDAY_NOON = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 12:00 New York
HEADER = "timestamp,open,high,low,close,volume\n"


def _write_minutes(synthetic, folder: Path, name: str = "AAPL.csv", *, end=MONDAY_NOON) -> None:
    # Three full sessions (11-24, 11-25, the 11-27 half day) and Monday morning.
    minutes = synthetic.bars("AAPL", "1m", end=end, limit=390 * 2 + 210 + 150)
    minutes.to_csv(folder / name, index_label="timestamp")


def test_it_resamples_one_minute_bars_like_the_synthetic_provider(tmp_path, synthetic):
    _write_minutes(synthetic, tmp_path)
    provider = CsvProvider(tmp_path)
    for timeframe, limit in (("1m", 500), ("5m", 100), ("15m", 60), ("1h", 20), ("4h", 5)):
        expected = synthetic.bars("AAPL", timeframe, end=MONDAY_NOON, limit=limit)
        pd.testing.assert_frame_equal(
            provider.bars("AAPL", timeframe, end=MONDAY_NOON, limit=limit), expected
        )
    # Daily bars from minutes are stamped at the session open, like every provider's.
    daily = provider.bars("AAPL", "1d", end=MONDAY_NOON, limit=10)
    pd.testing.assert_frame_equal(daily, synthetic.bars("AAPL", "1d", end=MONDAY_NOON, limit=3))


def test_it_returns_only_closed_bars(tmp_path, synthetic):
    _write_minutes(synthetic, tmp_path)
    provider = CsvProvider(tmp_path)
    at = datetime(2026, 11, 30, 16, 10, tzinfo=UTC)  # 11:10 New York
    hours = provider.bars("AAPL", "1h", end=at, limit=3)
    assert hours.index[-1] == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)  # 09:30-10:30 closed
    assert provider.bars("AAPL", "1m", end=at, limit=1).index[-1] == datetime(
        2026, 11, 30, 16, 9, tzinfo=UTC
    )


def test_it_reads_a_timeframe_file_with_plain_dates(tmp_path, synthetic):
    daily = synthetic.bars("MSFT", "1d", end=MONDAY_NOON, limit=30)
    on_disk = daily.copy()
    on_disk.index = [d.isoformat() for d in daily.index.tz_convert(NEW_YORK).date]
    on_disk.to_csv(tmp_path / "MSFT_1d.csv", index_label="timestamp")
    provider = CsvProvider(tmp_path)
    pd.testing.assert_frame_equal(provider.bars("MSFT", "1d", end=MONDAY_NOON, limit=30), daily)
    assert provider.universe() == ["MSFT"]


def test_it_reads_offsets_and_treats_naive_times_as_utc(tmp_path):
    (tmp_path / "XYZ_5m.csv").write_text(
        HEADER
        + "2026-11-25T09:30:00-05:00,10,11,9.5,10.5,100\n"  # New York time with offset
        + "2026-11-25 14:35:00,10.5,10.8,10.1,10.2,50\n"  # naive: UTC
        + "2026-11-25T14:40:00Z,10.2,10.3,10.0,10.1,70\n"
        + "2026-11-25T09:40:00-05:00,10.1,10.2,10.0,10.0,10\n"  # 14:40 UTC again
    )
    with pytest.raises(MarketDataError, match=r"XYZ_5m\.csv: line 5, column timestamp"):
        CsvProvider(tmp_path).bars("XYZ", "5m", end=MONDAY_NOON)
    (tmp_path / "XYZ_5m.csv").write_text(
        HEADER
        + "2026-11-25T08:00:00-05:00,9,9,9,9,5\n"  # pre-market: ignored
        + "2026-11-25T09:30:00-05:00,10,11,9.5,10.5,100\n"
        + "2026-11-25 14:35:00,10.5,10.8,10.1,10.2,50\n"
        + "\n"
        + "2026-11-25T14:40:00Z,10.2,10.3,10.0,10.1,70\n"
    )
    bars = CsvProvider(tmp_path).bars("XYZ", "5m", end=MONDAY_NOON)
    assert list(bars.index) == [
        pd.Timestamp("2026-11-25 14:30", tz="UTC"),
        pd.Timestamp("2026-11-25 14:35", tz="UTC"),
        pd.Timestamp("2026-11-25 14:40", tz="UTC"),
    ]
    assert bars["close"].tolist() == [10.5, 10.2, 10.1]


def test_it_prefers_a_timeframe_file_and_resamples_from_the_finest_finer_one(tmp_path, synthetic):
    _write_minutes(synthetic, tmp_path)
    hours = synthetic.bars("AAPL", "1h", end=MONDAY_NOON, limit=5).copy()
    hours["close"] = hours["close"].round(0)  # a different, recognisable series
    hours["high"] = hours[["high", "close"]].max(axis=1)
    hours["low"] = hours[["low", "close"]].min(axis=1)
    hours.to_csv(tmp_path / "AAPL_1h.csv", index_label="timestamp")
    provider = CsvProvider(tmp_path)
    pd.testing.assert_frame_equal(provider.bars("AAPL", "1h", end=MONDAY_NOON, limit=5), hours)
    # 15m still comes from the 1-minute file, not from the coarser hour file.
    pd.testing.assert_frame_equal(
        provider.bars("AAPL", "15m", end=MONDAY_NOON, limit=10),
        synthetic.bars("AAPL", "15m", end=MONDAY_NOON, limit=10),
    )


def test_it_quotes_the_last_close_at_or_before_a_time(tmp_path, synthetic):
    _write_minutes(synthetic, tmp_path)
    provider = CsvProvider(tmp_path)
    at = datetime(2026, 11, 30, 15, 0, 30, tzinfo=UTC)
    quote = provider.quotes(["AAPL", "MSFT"], at=at)
    assert set(quote) == {"AAPL"}
    minutes = synthetic.bars("AAPL", "1m", end=at, limit=30)
    assert quote["AAPL"].price == minutes["close"].iat[-1]
    assert quote["AAPL"].volume == int(minutes["volume"].sum())  # the session so far
    assert quote["AAPL"].timestamp == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert provider.quotes(["AAPL"], at=datetime(2026, 1, 2, tzinfo=UTC)) == {}


def test_it_lists_symbols_from_file_names(tmp_path, synthetic):
    _write_minutes(synthetic, tmp_path)
    _write_minutes(synthetic, tmp_path, "SPY_1m.csv")
    (tmp_path / "notes.txt").write_text("not data")
    (tmp_path / "lowercase_1d.csv").write_text(HEADER)
    provider = CsvProvider(tmp_path)
    assert provider.universe() == ["AAPL", "SPY"]
    with pytest.raises(UnknownSymbol, match="no CSV file for 'MSFT'"):
        provider.bars("MSFT", "1d", end=MONDAY_NOON)


def test_it_says_which_file_to_add_for_a_missing_timeframe(tmp_path, synthetic):
    daily = synthetic.bars("AAPL", "1d", end=MONDAY_NOON, limit=5)
    daily.to_csv(tmp_path / "AAPL_1d.csv", index_label="timestamp")
    with pytest.raises(MarketDataError, match=r"no 5m bars for AAPL .* add AAPL_5m\.csv"):
        CsvProvider(tmp_path).bars("AAPL", "5m", end=MONDAY_NOON)


def test_it_rereads_a_file_that_changed(tmp_path):
    path = tmp_path / "ABC_1d.csv"
    path.write_text(HEADER + "2026-11-24,10,11,9,10.5,1000\n")
    provider = CsvProvider(tmp_path)
    assert provider.bars("ABC", "1d", end=MONDAY_NOON)["close"].tolist() == [10.5]
    path.write_text(HEADER + "2026-11-24,10,11,9,10.5,1000\n2026-11-25,10.5,12,10,11.75,900\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert provider.bars("ABC", "1d", end=MONDAY_NOON)["close"].tolist() == [10.5, 11.75]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"BAD_1d\.csv: the file is empty"),
        ("timestamp,open,high,low,close\n", r"BAD_1d\.csv: line 1: missing column\(s\) volume"),
        (
            HEADER + "2026-11-24,10,11,9,10.5,100\n2026-11-25,10,11,9,ten,100\n",
            r"BAD_1d\.csv: line 3, column close: 'ten' is not a non-negative number",
        ),
        (
            HEADER + "yesterday,10,11,9,10.5,100\n",
            r"BAD_1d\.csv: line 2, column timestamp: 'yesterday' is not an ISO 8601 timestamp",
        ),
        (
            HEADER + "2026-11-24,10,11,9,10.5,100\n2026-11-25,10,9.5,9,10.5,100\n",
            r"BAD_1d\.csv: line 3: high/low do not contain open/close",
        ),
        (
            HEADER + "2026-11-24,10,11,9,10.5,-5\n",
            r"BAD_1d\.csv: line 2, column volume: '-5' is not a non-negative number",
        ),
        (
            HEADER + "2026-11-26,10,11,9,10.5,100\n",
            r"BAD_1d\.csv: line 2, column timestamp: '2026-11-26' is not an XNYS trading day",
        ),
        (
            HEADER + "2026-11-24,10,11,9,10.5,100,extra,fields\n",
            r"BAD_1d\.csv: cannot parse as CSV",
        ),
    ],
)
def test_it_names_the_file_line_and_column_of_a_malformed_file(tmp_path, content, message):
    (tmp_path / "BAD_1d.csv").write_text(content)
    with pytest.raises(MarketDataError, match=message):
        CsvProvider(tmp_path).bars("BAD", "1d", end=MONDAY_NOON)


def test_it_refuses_a_missing_folder(tmp_path):
    with pytest.raises(MarketDataError, match="does not exist"):
        CsvProvider(tmp_path / "nowhere")


def test_it_names_the_line_of_a_timestamp_no_market_printed(tmp_path):
    (tmp_path / "XYZ_5m.csv").write_text(
        HEADER + "2026-11-25T09:30:00-05:00,10,11,9.5,10.5,100\n" + "-1,10.5,10.8,10.1,10.2,50\n"
    )
    with pytest.raises(
        MarketDataError, match=r"XYZ_5m\.csv: line 3, column timestamp: '-1' is not an ISO 8601"
    ):
        CsvProvider(tmp_path).bars("XYZ", "5m", end=MONDAY_NOON)
