"""Shared by the process commands: a stop event set by SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading

logger = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """An event set on SIGTERM/SIGINT, so the loop finishes the message in hand and exits."""
    stop = threading.Event()

    def _stop(signum, frame):
        logger.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop
