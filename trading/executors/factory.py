"""Which executor serves a trading mode for an owner."""

from __future__ import annotations

from decimal import Decimal

from trading.clock import Clock, SystemClock
from trading.executors.base import ExecutionError, TradeExecutor
from trading.executors.simulation import SimulationExecutor
from trading.executors.validation import ValidationExecutor
from trading.marketdata.base import MarketDataProvider


def broker_connection_for(*, owner, mode: str, connection=None):
    """The connection PAPER/LIVE trade through: the pipeline's, else the owner's of that kind."""
    from accounts.models import BrokerConnection

    account_type = "live" if mode == "LIVE" else "paper"
    if connection is not None and connection.account_type == account_type:
        return connection
    return BrokerConnection.objects.filter(
        owner=owner, broker="alpaca", account_type=account_type
    ).first()


def executor_for(
    *,
    owner,
    mode: str,
    mode_config: dict | None = None,
    clock: Clock | None = None,
    market_data: MarketDataProvider | None = None,
    broker_connection=None,
) -> TradeExecutor:
    mode_config = mode_config or {}
    if mode == "VALIDATION":
        return ValidationExecutor(
            initial_balance=Decimal(str(mode_config.get("initial_balance", "100000")))
        )
    if mode == "SIMULATION":
        if market_data is None:
            from trading.marketdata.registry import market_data_provider

            market_data = market_data_provider()
        return SimulationExecutor(
            owner=owner,
            mode_config=mode_config,
            clock=clock or SystemClock(),
            market_data=market_data,
        )
    if mode in ("PAPER", "LIVE"):
        connection = broker_connection_for(owner=owner, mode=mode, connection=broker_connection)
        if connection is None:
            kind = "live" if mode == "LIVE" else "paper"
            raise ExecutionError(
                f"{mode} trading needs an Alpaca {kind} broker connection; add one in Settings."
            )
        if mode == "LIVE" and not connection.is_verified:
            raise ExecutionError("LIVE trading needs a verified broker connection.")
        from trading.executors.alpaca import alpaca_executor_for

        return alpaca_executor_for(connection)
    raise ExecutionError(f"Unknown trading mode {mode!r}")


def executor_for_position(position):
    """The executor that closes `position`: its simulation costs, or its broker account."""
    return executor_for(
        owner=position.owner,
        mode=position.trading_mode,
        mode_config={**(position.fill_costs or {}), "simulate_rejections": False},
    )
