"""The core the apps may import: database helpers, events, errors, environment, shared UI
and the platform's middleware, metrics and tracing. It imports no app (tests/test_layers.py)."""
