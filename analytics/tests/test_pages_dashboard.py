"""The dashboard: a first step for a new user; active pipelines, today's runs, open positions
with live P&L, recent trades and today's spend against the budget; fixed queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from pipelines.models import Pipeline, PipelineExecution
from pipelines.tests.factories import minimal_graph
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db


def _trade(owner, symbol, pipeline=None, **fields):
    defaults = {
        "owner": owner,
        "trading_mode": "SIMULATION",
        "pipeline_id": pipeline.pk if pipeline else None,
        "symbol": symbol,
        "side": "long",
        "quantity": 5,
        "remaining_quantity": 5,
        "requested_entry_price": Decimal("50"),
        "entry_price": Decimal("50"),
        "stop_loss": Decimal("48"),
        "initial_stop_loss": Decimal("48"),
        "target_1": Decimal("52"),
        "target_2": Decimal("54"),
        "opened_at": timezone.now(),
    }
    defaults.update(fields)
    return Trade.objects.create(**defaults)


def _position(owner, symbol, pipeline=None):
    return Position.objects.create(
        owner=owner,
        trading_mode="SIMULATION",
        symbol=symbol,
        side="long",
        quantity=5,
        average_price=Decimal("50"),
        current_price=Decimal("51"),
        unrealized_pnl=Decimal("5"),
        stop_loss=Decimal("48"),
        target_1=Decimal("52"),
        target_2=Decimal("54"),
        pipeline_id=pipeline.pk if pipeline else None,
        opened_at=timezone.now(),
    )


def test_a_new_user_is_shown_the_first_step(owner_client):
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="dashboard-empty"' in html
    assert "create your first pipeline from a template" in html
    assert 'data-testid="use-template-day_trading_5m"' in html


def test_it_shows_pipelines_runs_positions_trades_and_spend(owner_client, owner):
    from accounts.selectors import user_today
    from billing.models import DailyCost

    owner.budget_limit_daily = Decimal("2.00")
    owner.save()
    active = Pipeline.objects.create(
        owner=owner,
        name="Active crew",
        graph=minimal_graph(),
        status="active",
        trading_mode="PAPER",
    )
    run = PipelineExecution.objects.create(
        pipeline=active, owner=owner, trading_mode="PAPER", status="completed"
    )
    position = _position(owner, "AAPL", active)
    _trade(owner, "MSFT", active, status="closed", realized_pnl=Decimal("12.5"))
    DailyCost.objects.create(owner=owner, day=user_today(owner), total_cost=Decimal("0.50"))
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert "Active crew" in html and 'class="badge badge-PAPER"' in html
    assert f'id="execution-{run.pk}"' in html
    assert f'id="position-{position.pk}"' in html and "+$5.00" in html
    assert "MSFT" in html and "+$12.50" in html
    assert "$0.50" in html and "of $2.00 a day" in html
    assert 'value="25" max="100"' in html
    assert 'ws-connect="/ws/events/html/?topics=positions,executions"' in html


def test_the_dashboard_runs_a_fixed_number_of_queries(
    owner_client, owner, django_assert_num_queries
):
    pipelines = [
        Pipeline.objects.create(owner=owner, name=f"P{n}", graph=minimal_graph(), status="active")
        for n in range(50)
    ]
    for n, pipeline in enumerate(pipelines):
        PipelineExecution.objects.create(
            pipeline=pipeline, owner=owner, trading_mode="SIMULATION", status="completed"
        )
        _position(owner, f"S{n:03d}", pipeline)
        _trade(owner, f"T{n:03d}", pipeline)
    owner_client.get(reverse("dashboard"))
    # session, user, pipelines, runs, newest positions, open totals, pipeline names, trades,
    # spend, bell
    with django_assert_num_queries(10):
        response = owner_client.get(reverse("dashboard"))
    html = response.content.decode()
    # The newest 20 of the 50 open positions, and a link to the rest.
    assert html.count('class="position-row') == 20
    assert "30 more open positions" in html and "50 positions" in html


def test_polling_gets_only_the_live_part(owner_client, owner):
    Pipeline.objects.create(owner=owner, name="One", graph=minimal_graph())
    html = owner_client.get(reverse("dashboard"), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="dashboard-live"' in html and "<html" not in html


def test_it_says_a_zero_daily_budget_refuses_runs_instead_of_no_budget(owner_client, owner):
    Pipeline.objects.create(owner=owner, name="P", graph=minimal_graph())
    owner.budget_limit_daily = Decimal("0")
    owner.save()
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="budget-zero"' in html
    assert "$0.00 a day — runs are refused" in html
    assert "no daily budget" not in html
