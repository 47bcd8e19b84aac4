"""Signals coming in: publishing a validated signal on the bus, and parsing and receiving a
trader's webhook (native or TradingView)."""

from __future__ import annotations

import json

from pydantic import ValidationError as PydanticValidationError

from accounts.models import User
from signals import metrics
from signals.bus import SignalBus
from signals.schemas import SignalMessage, TradingViewAlert


def signal_publish(*, bus: SignalBus, signal: SignalMessage, owner_id: int | None = None) -> str:
    """Append a validated signal to the bus; counts successes and failures by source."""
    try:
        message_id = bus.publish(signal.as_dict(), owner_id=owner_id)
    except Exception:
        metrics.signal_publish_failure.labels(source=signal.source).inc()
        raise
    metrics.signal_publish_success.labels(source=signal.source).inc()
    return message_id


def _pydantic_errors(error: PydanticValidationError) -> list[dict]:
    return [
        {"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]


class SignalBodyInvalid(Exception):
    """A webhook body that is neither a §17.2 signal nor a TradingView alert (answered 422)."""

    def __init__(self, errors: list[dict]):
        super().__init__("invalid signal body")
        self.errors = errors


def webhook_signal_parse(body: bytes) -> SignalMessage:
    """A §17.2 signal (it has `tickers`), or a TradingView-style alert ({ticker, action, …})
    turned into one with signal_type "tradingview"."""
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a body nested thousands of levels deep is not a signal either.
        raise SignalBodyInvalid(
            [{"loc": ["body"], "msg": "The body must be JSON.", "type": "json_invalid"}]
        ) from None
    if not isinstance(data, dict):
        raise SignalBodyInvalid(
            [{"loc": ["body"], "msg": "The body must be a JSON object.", "type": "dict_type"}]
        )
    try:
        if "tickers" in data or "signal_type" in data:
            return SignalMessage.model_validate(data)
        if "ticker" in data or "action" in data:
            return TradingViewAlert.model_validate(data).to_signal()
    except PydanticValidationError as error:
        raise SignalBodyInvalid(_pydantic_errors(error)) from None
    raise SignalBodyInvalid(
        [
            {
                "loc": ["body", "tickers"],
                "msg": "Send a signal {timestamp, source, signal_id, signal_type, tickers} or a "
                "TradingView alert {ticker, action, price}.",
                "type": "missing",
            }
        ]
    )


def webhook_signal_receive(*, bus: SignalBus, user: User, body: bytes) -> tuple[SignalMessage, str]:
    """A user's own signal: it travels with their id, so it can only start their pipelines."""
    signal = webhook_signal_parse(body)
    return signal, signal_publish(bus=bus, signal=signal, owner_id=user.pk)
