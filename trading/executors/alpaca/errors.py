"""Alpaca's failures sorted: worth another attempt (Transient) or final (Refused), with the wait
the server asked for and the message a trader reads."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from alpaca.common.exceptions import APIError

from config.core import metrics
from trading.executors.base import ExecutionError

# Messages Alpaca answers when the keys, not the order, are the problem.
KEY_REJECTIONS = ("forbidden", "request is not authorized", "unauthorized", "access key")


class Transient(Exception):
    """Worth another attempt: HTTP 429 or 5xx, a timeout or a dropped connection."""

    def __init__(self, description: str, wait: float | None = None):
        super().__init__(description)
        self.wait = wait  # what the server asked for (Retry-After / X-RateLimit-Reset)


class Refused(Exception):
    """A final answer from Alpaca (4xx other than 429)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def call_once(call: Callable[..., Any], *args: Any) -> Any:
    """One HTTP call, its failure sorted into Transient (retry) or Refused (final)."""
    try:
        return call(*args)
    except APIError as error:
        status = error.status_code or 0
        message = broker_message(error)
        metrics.broker_error(
            broker="alpaca", kind="transient" if status == 429 or status >= 500 else "refused"
        )
        if status == 429 or status >= 500:
            raise Transient(f"HTTP {status}: {message}", server_wait(error.response)) from None
        raise Refused(status, message) from None
    except requests.Timeout:
        metrics.broker_error(broker="alpaca", kind="timeout")
        raise Transient("no answer in time") from None
    except requests.ConnectionError as error:
        metrics.broker_error(broker="alpaca", kind="connection")
        raise Transient(f"connection failed: {type(error).__name__}") from None


def refusal(what: str, refused: Refused) -> ExecutionError:
    """The ExecutionError a trader reads for a final refusal; bad keys say so."""
    message = refused.message
    if refused.status == 401 or (
        refused.status == 403 and any(k in message.lower() for k in KEY_REJECTIONS)
    ):
        return ExecutionError(
            f"Alpaca rejected the API keys (HTTP {refused.status}: {message}); check the key, "
            "the secret and paper vs live in Settings."
        )
    return ExecutionError(f"Alpaca refused {what} ({refused.status}): {message}")


def broker_message(error: APIError) -> str:
    """The message in Alpaca's JSON error body, else the start of the raw text."""
    text = str(error)
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no message"
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return text.strip()[:300]


def server_wait(response: requests.Response | None) -> float | None:
    """Seconds the server asked us to wait: Retry-After (seconds or an HTTP date), else Alpaca's
    X-RateLimit-Reset (the Unix time the rate-limit window reopens)."""
    if response is None:
        return None
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return float(retry_after)
        except ValueError:
            try:
                moment = parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                moment = None
            if moment is not None:
                return (moment - datetime.now(UTC)).total_seconds()
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return float(reset) - time.time()
        except ValueError:
            return None
    return None
