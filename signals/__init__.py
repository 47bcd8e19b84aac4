"""Signals: scanners, the signal log, generators, the Redis-Streams bus, the trigger dispatcher."""
