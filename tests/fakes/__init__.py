"""Loopback fakes of external HTTP APIs, driven through the real client libraries in tests."""
