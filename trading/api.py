"""Trading API: positions, emergency closes, trades and orders."""

from ninja import Router

positions_router = Router(tags=["positions"])
trades_router = Router(tags=["trades"])
orders_router = Router(tags=["orders"])
