"""The client's address: forwarded headers are believed only from TRUSTED_PROXIES.

Without a configured proxy, `REMOTE_ADDR` is the TCP peer and `X-Forwarded-For` is ignored, so a
client cannot pick its own address (the lockout and the throttles key on it). Behind configured
proxies, `X-Forwarded-For` is read from the right: each trusted proxy appended the address it
received the request from, so the right-most address that is not a trusted proxy is the client.
Everything downstream (django-axes, the throttles, the logs) reads the result in `REMOTE_ADDR`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """ "10.0.0.1", "10.0.0.0/8", "::1" → networks; anything else is a configuration error."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an IP address or network"
            ) from None
    return tuple(networks)


@cache
def _trusted(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:51234"
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(*, peer: str, forwarded_for: str | None, trusted: Iterable[Network]) -> str:
    """The right-most address in peer ← X-Forwarded-For that is not a trusted proxy."""
    trusted = tuple(trusted)

    def is_trusted(address) -> bool:
        return address is not None and any(address in network for network in trusted)

    client = peer
    if not forwarded_for or not is_trusted(_address(peer)):
        return client
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            # Garbage where an address should be: the last proxy we trust is as far as we know.
            return client
        client = str(address)
        if not is_trusted(address):
            return client
    return client  # every hop is a trusted proxy: the left-most one is the closest we have


class ClientAddressMiddleware:
    """Put the real client address in REMOTE_ADDR and drop the forwarded header, before
    anything reads either."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        trusted = _trusted(tuple(settings.TRUSTED_PROXIES))
        request.META["REMOTE_ADDR"] = client_address(
            peer=request.META.get("REMOTE_ADDR", ""),
            forwarded_for=request.META.pop("HTTP_X_FORWARDED_FOR", None),
            trusted=trusted,
        )
        return self.get_response(request)
