"""Talking to a broker about an account (verification); trading itself lives in trading/."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings


@dataclass(frozen=True)
class BrokerAccountInfo:
    account_number: str
    status: str
    equity: Decimal
    buying_power: Decimal
    currency: str


class BrokerRejected(Exception):
    """The broker refused the credentials or the request; the message says why."""


class BrokerUnreachable(Exception):
    """The broker could not be reached (network, DNS, its own outage): nothing was learnt
    about the keys."""


def alpaca_trading_url(account_type: str) -> str | None:
    """The trading API base URL override for paper or live (None = alpaca-py's default)."""
    name = "ALPACA_PAPER_URL" if account_type == "paper" else "ALPACA_LIVE_URL"
    return getattr(settings, name)


def alpaca_account(*, api_key: str, api_secret: str, account_type: str) -> BrokerAccountInfo:
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient

    client = TradingClient(
        api_key,
        api_secret,
        paper=account_type == "paper",
        url_override=alpaca_trading_url(account_type),
    )
    try:
        account = client.get_account()
    except APIError as error:
        status = getattr(error, "status_code", None)
        if status in (401, 403):
            raise BrokerRejected(
                "Alpaca rejected these API keys (check key, secret and paper/live)."
            ) from None
        if status is not None and status >= 500:
            raise BrokerUnreachable(
                f"Alpaca is not answering normally (HTTP {status}); the keys were not checked."
            ) from None
        raise BrokerRejected(f"Alpaca answered an error: {error}") from None
    except Exception as error:
        # A NameResolutionError or a refused connection says nothing about the keys.
        raise BrokerUnreachable(
            f"Could not reach Alpaca ({type(error).__name__}); the keys were not checked. "
            "Check the network and verify again."
        ) from None
    return BrokerAccountInfo(
        account_number=str(account.account_number),
        status=str(getattr(account.status, "value", account.status)),
        equity=Decimal(str(account.equity or "0")),
        buying_power=Decimal(str(account.buying_power or "0")),
        currency=str(account.currency or "USD"),
    )
