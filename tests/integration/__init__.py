"""Tests that drive several apps together: a lower app's behaviour seen through a higher one.

An app's own `tests/` imports only that app and the apps below it (ARCHITECTURE.md §2); a test
that needs a higher app lives here (tests/test_layers.py checks it)."""
