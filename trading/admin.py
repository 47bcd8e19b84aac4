"""Django admin for the trading ledger, read-only for support staff: orders, trades, positions,
manual interventions, end-of-day actions and simulated accounts change only through the
trading services (the broker is the source of truth; the ledger mirrors it)."""

from django.contrib import admin

from config.core.admin import ReadOnlyAdmin
from trading.models import (
    EODAction,
    ManualIntervention,
    Order,
    Position,
    SimulatedAccount,
    Trade,
)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "owner", "symbol", "side", "quantity", "status"]
    list_filter = ["status", "side"]
    search_fields = ["symbol", "owner__email", "client_order_id"]


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "owner", "status"]
    list_filter = ["status"]
    search_fields = ["symbol", "owner__email"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "owner", "status"]
    list_filter = ["status"]
    search_fields = ["symbol", "owner__email"]


@admin.register(ManualIntervention)
class ManualInterventionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "owner", "action", "symbol", "positions_affected"]
    list_filter = ["action"]
    search_fields = ["symbol", "owner__email"]


@admin.register(EODAction)
class EODActionAdmin(ReadOnlyAdmin):
    search_fields = ["owner__email"]


@admin.register(SimulatedAccount)
class SimulatedAccountAdmin(ReadOnlyAdmin):
    search_fields = ["owner__email"]
