"""The signal message (§17.2) and the TradingView-style alert, validated with pydantic."""

from __future__ import annotations

import math
import re
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.services import SYMBOL_PATTERN

SIGNAL_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
SIGNAL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
MAX_TICKERS = 100
# The latest instant PostgreSQL and Python both hold (9999-12-31T23:59:59Z): a timestamp past it
# cannot be recorded, so intake refuses it rather than handing the dispatcher a poison message.
MAX_TIMESTAMP = 253_402_300_799
# Any C0/C1 control character (NUL cannot be stored in PostgreSQL text at all), and a lone
# surrogate (it cannot be encoded to UTF-8).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_PRICE = 1_000_000_000


def whole_seconds(value: Any) -> Any:
    """Senders often send float seconds; the schema's unit is whole seconds. An infinite or NaN
    float is refused here (int() of it would raise outside validation)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number of seconds")
        if abs(value) > MAX_TIMESTAMP:
            raise ValueError(f"must be at most {MAX_TIMESTAMP} (9999-12-31)")
        return int(value)
    return value


def printable(value: Any) -> Any:
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


class Direction(StrEnum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"


def clean_ticker(raw: Any) -> str:
    """Upper-cased ticker; an exchange prefix as TradingView sends it ("NASDAQ:AAPL") is dropped."""
    symbol = str(raw or "").strip().upper().rpartition(":")[2]
    if not SYMBOL_PATTERN.match(symbol):
        raise ValueError(f"{raw!r} is not a ticker symbol")
    return symbol


class TickerSignal(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ticker: str
    signal: Direction
    confidence: float = Field(ge=0, le=100, allow_inf_nan=False)

    @field_validator("ticker", mode="before")
    @classmethod
    def _ticker(cls, value: Any) -> str:
        return clean_ticker(value)

    @field_validator("signal", mode="before")
    @classmethod
    def _signal(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class SignalMessage(BaseModel):
    """A signal as §17.2 defines it: timestamp, source, signal_id, signal_type, and tickers
    [{ticker, signal, confidence}]."""

    model_config = ConfigDict(extra="ignore")

    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)
    source: str = Field(min_length=1, max_length=100)
    signal_id: str = Field(min_length=1, max_length=200)
    signal_type: str = Field(min_length=1, max_length=50)
    tickers: list[TickerSignal] = Field(min_length=1, max_length=MAX_TICKERS)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> Any:
        return whole_seconds(value)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return printable(value)

    @field_validator("signal_id")
    @classmethod
    def _signal_id(cls, value: str) -> str:
        if not SIGNAL_ID_PATTERN.match(value):
            raise ValueError("letters, digits and _ . : - only, at most 200 characters")
        return value

    @field_validator("signal_type", mode="before")
    @classmethod
    def _signal_type(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if not SIGNAL_TYPE_PATTERN.match(value):
                raise ValueError("lower-case letters, digits and _, starting with a letter")
        return value

    @field_validator("tickers")
    @classmethod
    def _unique_tickers(cls, value: list[TickerSignal]) -> list[TickerSignal]:
        seen: dict[str, TickerSignal] = {}
        for entry in value:
            seen.setdefault(entry.ticker, entry)  # a repeated ticker keeps its first entry
        return list(seen.values())

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


ACTIONS: dict[str, Direction] = {
    "buy": Direction.BULLISH,
    "long": Direction.BULLISH,
    "bullish": Direction.BULLISH,
    "sell": Direction.BEARISH,
    "short": Direction.BEARISH,
    "bearish": Direction.BEARISH,
    "close": Direction.NEUTRAL,
    "exit": Direction.NEUTRAL,
    "flat": Direction.NEUTRAL,
    "neutral": Direction.NEUTRAL,
}


class TradingViewAlert(BaseModel):
    """A TradingView-style alert body: {ticker, action, price, …} (extra fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    ticker: str
    action: str
    price: float | None = Field(default=None, gt=0, le=MAX_PRICE, allow_inf_nan=False)
    # An alert is a deliberate order from the trader, so it is fully confident unless told.
    confidence: float = Field(default=100.0, ge=0, le=100, allow_inf_nan=False)
    signal_id: str | None = Field(default=None, max_length=200)
    time: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP)

    @field_validator("ticker", mode="before")
    @classmethod
    def _ticker(cls, value: Any) -> str:
        return clean_ticker(value)

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> str:
        action = str(value or "").strip().lower()
        if action not in ACTIONS:
            raise ValueError(f"one of {', '.join(ACTIONS)}")
        return action

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        # TradingView's {{timenow}} is ISO 8601 ("2026-11-24T15:00:00Z"); scripts send seconds.
        if isinstance(value, str) and not value.strip().isdigit():
            try:
                moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("Unix seconds or an ISO 8601 time") from None
            return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
        return whole_seconds(value)

    @field_validator("signal_id")
    @classmethod
    def _signal_id(cls, value: str | None) -> str | None:
        if value is not None and not SIGNAL_ID_PATTERN.match(value):
            raise ValueError("letters, digits and _ . : - only, at most 200 characters")
        return value

    def to_signal(self) -> SignalMessage:
        timestamp = self.time if self.time is not None else int(time.time())
        return SignalMessage(
            timestamp=timestamp,
            source="tradingview",
            signal_id=self.signal_id or f"tv_{timestamp}_{self.ticker}_{uuid.uuid4().hex[:8]}",
            signal_type="tradingview",
            tickers=[
                TickerSignal(
                    ticker=self.ticker, signal=ACTIONS[self.action], confidence=self.confidence
                )
            ],
        )
