"""Alpaca PAPER and LIVE trading through alpaca-py, split by concern: the executor (executor),
one account's client and retry policy (connection), the orders we send (order_requests), how
Alpaca's answers read (answers) and how its failures are sorted (errors)."""

from trading.executors.alpaca.executor import AlpacaExecutor, alpaca_executor_for

__all__ = ["AlpacaExecutor", "alpaca_executor_for"]
