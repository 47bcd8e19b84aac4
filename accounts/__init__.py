"""Accounts: users (e-mail login), subscription tier, budgets, API tokens, broker connections."""
