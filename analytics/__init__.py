"""Analytics: read-only views over the ledger — dashboard, performance, breakdowns, exports."""
