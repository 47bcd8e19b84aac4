"""A large monitor sweep runs as a Celery group of per-user chunks on real workers (issue 16)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker

from accounts.tests.factories import UserFactory
from config.celery import app as celery_app
from trading.models import Mode, Position
from trading.tasks import positions_monitor_task

pytestmark = pytest.mark.django_db(transaction=True)

SESSION = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 12:00 New York


def test_it_sweeps_every_users_chunk_through_a_group_of_tasks(settings):
    settings.POSITION_MONITOR_CHUNK = 2
    owners = UserFactory.create_batch(3)
    positions = [
        Position.objects.create(
            owner=owner,
            trading_mode=Mode.SIMULATION,
            symbol=symbol,
            side="long",
            quantity=10,
            average_price=Decimal("1"),
            stop_loss=Decimal("0.01"),  # far away: the sweep only marks them
            opened_at=SESSION,
        )
        for owner in owners
        for symbol in ("AAPL", "MSFT")
    ]
    celery_app.control.purge()
    with time_machine.travel(SESSION, tick=True):
        positions_monitor_task()
        # Handed to a group of three chunks (one user each) waiting for a worker: nothing swept.
        assert not Position.objects.filter(price_updated_at__isnull=False).exists()
        with start_worker(
            celery_app,
            pool="threads",
            concurrency=2,
            queues=["monitoring"],
            perform_ping_check=False,
            loglevel="WARNING",
        ):
            deadline = time.monotonic() + 60
            while (
                Position.objects.filter(price_updated_at__isnull=True).exists()
                and time.monotonic() < deadline
            ):
                time.sleep(0.1)
    for position in positions:
        position.refresh_from_db()
        assert position.price_updated_at is not None, position
        assert position.current_price > 0
        assert position.unrealized_pnl == (position.current_price - 1) * 10
