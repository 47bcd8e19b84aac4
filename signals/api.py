"""Signals API: scanners, the signal log, webhook intake."""

from ninja import Router

router = Router(tags=["signals"])
scanners_router = Router(tags=["scanners"])
