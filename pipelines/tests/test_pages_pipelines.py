"""Pipeline pages: the list (cards, empty state, fixed queries), templates, the detail page with
its controls, clone / clone as live / delete / mode switch with confirmation, owner scoping."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import (
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    PipelineStatus,
    TradingMode,
)
from pipelines.tests.factories import minimal_graph

pytestmark = pytest.mark.django_db


def _pipeline(owner, name="Crew", **fields) -> Pipeline:
    return Pipeline.objects.create(owner=owner, name=name, graph=minimal_graph(), **fields)


def test_it_shows_a_new_user_how_to_start(owner_client):
    response = owner_client.get(reverse("pipelines:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Create your first pipeline from a template" in html
    assert 'data-testid="use-template-day_trading_5m"' in html
    assert "New pipeline" in html


def test_it_lists_cards_with_mode_status_trades_and_the_test_mode_chip(owner_client, owner):
    _pipeline(owner, name="Paper crew", trading_mode=TradingMode.PAPER)
    _pipeline(owner, name="Live crew", trading_mode=TradingMode.LIVE, status=PipelineStatus.ACTIVE)
    html = owner_client.get(reverse("pipelines:list")).content.decode()
    assert html.count('data-testid="pipeline-card"') == 2
    assert 'class="badge badge-PAPER"' in html and 'class="badge badge-LIVE"' in html
    # The test-mode chip only on the paper one; "clone as live" only for test modes.
    assert html.count("Test mode — no real money") == 1
    assert html.count(">Clone as live</a>") == 1
    assert "Trades" in html and "Realized P&amp;L" in html


def test_the_list_runs_a_fixed_number_of_queries(owner_client, owner, django_assert_num_queries):
    from trading.models import Trade

    pipelines = [_pipeline(owner, name=f"Crew {n}") for n in range(50)]
    from django.utils import timezone

    for pipeline in pipelines[:10]:
        Trade.objects.create(
            owner=owner,
            trading_mode="SIMULATION",
            pipeline_id=pipeline.pk,
            symbol="AAPL",
            side="long",
            quantity=1,
            remaining_quantity=0,
            requested_entry_price=100,
            entry_price=100,
            stop_loss=99,
            initial_stop_loss=99,
            target_1=101,
            target_2=102,
            status="closed",
            realized_pnl=5,
            opened_at=timezone.now(),
        )
    owner_client.get(reverse("pipelines:list"))  # warm the session
    with django_assert_num_queries(4):  # session, user, bell, pipelines with their figures
        response = owner_client.get(reverse("pipelines:list"))
    assert response.content.decode().count('data-testid="pipeline-card"') == 50


def test_a_template_becomes_a_simulation_pipeline(owner_client, owner):
    response = owner_client.post(
        reverse("pipelines:from-template"), {"template_key": "golden_cross_1d"}
    )
    pipeline = Pipeline.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("pipelines:detail", args=[pipeline.pk])
    assert pipeline.template_key == "golden_cross_1d"
    assert pipeline.trading_mode == TradingMode.SIMULATION


def test_the_detail_page_shows_controls_graph_settings_and_why_it_is_idle(owner_client, owner):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m")
    html = owner_client.get(reverse("pipelines:detail", args=[pipeline.pk])).content.decode()
    assert 'data-testid="run-now"' in html
    assert 'data-testid="run-skip-trigger"' in html  # its time trigger may be hours away
    # Run once: Run, never "Activate" (it would say Active and do nothing).
    assert 'data-testid="activate"' not in html
    assert "Run once: it runs each time you press Run" in html
    assert "Bias Agent" in html and "Trade Manager" in html  # graph preview
    assert "AAPL, MSFT" in html  # settings
    assert 'data-testid="mode-card-LIVE"' in html
    assert "LIVE unlocks after" in html  # prerequisites spelled out before the switch


def test_the_detail_page_shows_the_status_reason_of_an_active_pipeline(owner_client, owner):
    pipeline = _pipeline(
        owner, status=PipelineStatus.ACTIVE, status_reason="Waiting for its AAPL position to close."
    )
    html = owner_client.get(reverse("pipelines:detail", args=[pipeline.pk])).content.decode()
    assert "Waiting for its AAPL position to close." in html


def test_run_now_starts_an_execution_and_opens_the_monitor(owner_client, owner):
    pipeline = _pipeline(owner)
    response = owner_client.post(reverse("pipelines:run", args=[pipeline.pk]))
    execution = PipelineExecution.objects.get(pipeline=pipeline)
    assert response.status_code == 302
    assert response["Location"] == reverse("pipelines:execution", args=[execution.pk])
    assert execution.status == ExecutionStatus.PENDING


def test_a_second_run_while_one_is_going_says_why(owner_client, owner):
    pipeline = _pipeline(owner)
    PipelineExecution.objects.create(
        pipeline=pipeline, owner=owner, trading_mode="SIMULATION", status="running"
    )
    response = owner_client.post(reverse("pipelines:run", args=[pipeline.pk]), follow=True)
    assert "already has an execution" in response.content.decode()
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1


def test_activate_pause_and_stop_with_confirmation(owner_client, owner):
    pipeline = _pipeline(owner, run_mode="run_on_signal")
    html = owner_client.get(reverse("pipelines:detail", args=[pipeline.pk])).content.decode()
    assert 'data-testid="activate"' in html
    owner_client.post(reverse("pipelines:activate", args=[pipeline.pk]))
    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.ACTIVE
    owner_client.post(reverse("pipelines:pause", args=[pipeline.pk]))
    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.PAUSED

    unconfirmed = owner_client.post(reverse("pipelines:stop", args=[pipeline.pk]))
    assert unconfirmed.status_code == 200
    assert "Stop the pipeline" in unconfirmed.content.decode()
    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.PAUSED
    owner_client.post(reverse("pipelines:stop", args=[pipeline.pk]), {"confirmed": "yes"})
    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.STOPPED


def test_live_needs_confirmation_and_then_shows_the_prerequisites(owner_client, owner):
    pipeline = _pipeline(owner)
    url = reverse("pipelines:mode", args=[pipeline.pk])
    page = owner_client.post(url, {"mode": "LIVE"})
    html = page.content.decode()
    assert "Switch to LIVE trading?" in html
    assert "I understand that LIVE mode trades real money." in html
    assert 'name="mode" value="LIVE"' in html  # carried into the confirmation form

    refused = owner_client.post(url, {"mode": "LIVE", "confirmed": "yes"}, follow=True)
    text = refused.content.decode()
    assert "LIVE unlocks after 10 closed simulated trades (you have 0)" in text
    assert "Add your Alpaca live account in Settings first." in text
    pipeline.refresh_from_db()
    assert pipeline.trading_mode == TradingMode.SIMULATION


def test_switching_between_test_modes_needs_no_confirmation(owner_client, owner):
    pipeline = _pipeline(owner)
    owner_client.post(reverse("pipelines:mode", args=[pipeline.pk]), {"mode": "VALIDATION"})
    pipeline.refresh_from_db()
    assert pipeline.trading_mode == TradingMode.VALIDATION
    assert pipeline.mode_changes.count() == 1


def test_clone_and_clone_as_live(owner_client, owner, settings):
    pipeline = _pipeline(owner, name="Original")
    owner_client.post(reverse("pipelines:clone", args=[pipeline.pk]))
    assert Pipeline.objects.filter(owner=owner, name="Original (copy)").exists()

    confirm = owner_client.get(reverse("pipelines:clone-live", args=[pipeline.pk]))
    assert confirm.status_code == 200
    assert "Clone “Original” as LIVE?" in confirm.content.decode()
    assert "Not yet possible" in confirm.content.decode()

    refused = owner_client.post(
        reverse("pipelines:clone-live", args=[pipeline.pk]), {"confirmed": "yes"}, follow=True
    )
    assert "LIVE unlocks after" in refused.content.decode()
    assert not Pipeline.objects.filter(trading_mode=TradingMode.LIVE).exists()

    settings.MODE_UNLOCK_SIMULATED_TRADES = 0
    settings.MODE_UNLOCK_PAPER_TRADES = 0
    from accounts.models import BrokerConnection

    BrokerConnection.objects.create(
        owner=owner,
        account_type="live",
        api_key="AKLIVE12345678",
        api_secret="live-secret-1234",
        key_last4="5678",
        status="verified",
    )
    # A positive paper P&L is still required with zero paper trades: the unlock holds.
    refused_again = owner_client.post(
        reverse("pipelines:clone-live", args=[pipeline.pk]), {"confirmed": "yes"}, follow=True
    )
    assert "positive paper P&amp;L" in refused_again.content.decode()


def test_delete_asks_first(owner_client, owner):
    pipeline = _pipeline(owner)
    url = reverse("pipelines:delete", args=[pipeline.pk])
    page = owner_client.post(url)
    assert "Delete the pipeline" in page.content.decode()
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()
    response = owner_client.post(url, {"confirmed": "yes"})
    assert response.status_code == 302
    assert not Pipeline.objects.filter(pk=pipeline.pk).exists()


def test_another_users_pipeline_pages_are_404_and_change_nothing(client, outsider, owner):
    pipeline = _pipeline(owner)
    client.force_login(outsider)
    for name in ("detail", "builder", "clone-live"):
        assert client.get(reverse(f"pipelines:{name}", args=[pipeline.pk])).status_code == 404
    for name in ("run", "activate", "pause", "stop", "mode", "clone", "delete"):
        response = client.post(
            reverse(f"pipelines:{name}", args=[pipeline.pk]), {"confirmed": "yes", "mode": "PAPER"}
        )
        assert response.status_code == 404, name
    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.DRAFT
    assert not PipelineExecution.objects.exists()
    assert Pipeline.objects.count() == 1


def test_pages_need_a_login(client):
    response = client.get(reverse("pipelines:list"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
