"""Backtesting: a pipeline replayed over a dataset's history with SIMULATION's fill rules."""
