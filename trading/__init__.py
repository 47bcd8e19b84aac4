"""Trading: market data and indicators, executors, the order/trade/position ledger, risk math."""
