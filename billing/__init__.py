"""Billing: the cost ledger, cost estimates, budgets, subscription tiers and limits, Stripe."""
