"""The demo account gets a realistic history: its last few sessions replayed in SIMULATION
through the engine, the position monitor and the end-of-day flatten (runs, trades, reports on
past days), once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from pipelines.models import PipelineExecution, Report
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_gives_the_demo_account_a_few_days_of_runs_trades_and_reports(settings):
    settings.DEMO_PASSWORD = "a-fixed-demo-password"
    call_command("seed_demo", stdout=StringIO())
    demo = User.objects.get(email="demo@tradecrew.local")

    runs = PipelineExecution.objects.filter(owner=demo)
    assert runs.count() >= 6
    assert set(runs.values_list("status", flat=True)) == {"completed"}
    days = {run.started_at.date() for run in runs}
    assert len(days) == 3
    assert all(run.started_at < timezone.now() for run in runs)

    trades = Trade.objects.filter(owner=demo)
    assert trades.count() >= 3
    assert set(trades.values_list("status", flat=True)) == {"closed"}
    assert len({trade.close_reason for trade in trades}) >= 2
    assert not Position.objects.filter(owner=demo, status="open").exists()
    assert Report.objects.filter(owner=demo).count() >= trades.count()
    assert demo.budget_limit_daily == settings.DEFAULT_DAILY_BUDGET

    # Seeding again refreshes the log-in and writes no second history.
    call_command("seed_demo", stdout=StringIO())
    assert PipelineExecution.objects.filter(owner=demo).count() == runs.count()
    assert Trade.objects.filter(owner=demo).count() == trades.count()
