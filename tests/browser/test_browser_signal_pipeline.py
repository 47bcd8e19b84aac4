"""An on-signal pipeline in Chromium against daphne, the real dispatcher and a real Celery
worker (issue 13, item 1): the trader creates a scanner, subscribes the pipeline, sees in the
builder what its trigger means on a signal, activates it (nothing starts), a signal arrives and
the run trades one of its tickers; a second signal while the position is open is skipped with
the reason on the signals page. Photographed at 1280×800 and 390×844."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.test_browser_trader_flow import Camera, celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.celery, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-42"
TICKERS = ["AAPL", "MSFT", "NVDA", "META", "TSLA", "AMZN"]
# The dispatcher and the worker run in this process, at a Tuesday's New York morning, so the
# simulated market is open and the synthetic prices are the ones the unit test trades on.
SESSION = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def _issue_graph() -> dict:
    """Price Trigger (above 1) → Market Data → Bias → Strategy → Risk → Trade → Reporting."""
    nodes = [
        ("trigger", "price_trigger", {"condition": "above", "level": 1}),
        ("data", "market_data_agent", {"timeframes": ["5m", "1h", "4h", "1d"]}),
        ("bias", "bias_agent", {"confidence_threshold": 55}),
        ("strategy", "strategy_agent", {"timeframe": "5m"}),
        ("risk", "risk_manager_agent", {}),
        ("trade", "trade_manager_agent", {}),
        ("report", "reporting_agent", {}),
    ]
    return {
        "nodes": [
            {
                "id": node_id,
                "agent_type": agent_type,
                "position": {"x": 80 + 220 * index, "y": 120},
                "config": config,
            }
            for index, (node_id, agent_type, config) in enumerate(nodes)
        ],
        "edges": [{"from": a[0], "to": b[0]} for a, b in itertools.pairwise(nodes)],
    }


def test_a_signal_starts_one_run_that_trades_and_the_next_is_skipped(
    page, screenshots, live_server_url
):
    from accounts.models import User
    from pipelines import services as pipeline_services
    from pipelines.blueprints import pipeline_create_from_blueprint
    from pipelines.models import ExecutionStatus, PipelineExecution
    from signals.bus import RedisStreamBus
    from signals.dispatcher import Dispatcher
    from signals.tests.factories import signal_body
    from trading.models import Position, Trade

    camera = Camera(page, screenshots)
    email = f"signals-{uuid.uuid4().hex[:6]}@example.com"
    page.goto("/accounts/signup/")
    page.fill("#id_full_name", "Sam Signal")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    user = User.objects.get(email=email)
    pipeline, _ = pipeline_create_from_blueprint(owner=user, key="day_trading_5m")
    pipeline_services.pipeline_update(
        pipeline=pipeline,
        name="Signal crew",
        graph=_issue_graph(),
        run_mode="run_on_signal",
        mode_config={"simulate_rejections": False, "simulate_partial_fills": False},
    )

    # A scanner, and the pipeline subscribed to it with the issue's two signal types.
    page.goto("/signals/scanners/")
    page.fill("#id_name", "Big tech")
    page.fill("#id_tickers", " ".join(TICKERS))
    page.click("text=Create scanner")
    page.wait_for_selector("text=Big tech")
    page.goto(f"/signals/pipelines/{pipeline.pk}/")
    page.select_option("#scanner", label=f"Big tech ({len(TICKERS)} tickers)")
    page.check("input[name=subscribe_mock]")
    page.fill("input[name=min_mock]", "50")
    page.check("input[name=subscribe_volume_spike]")
    page.click("text=Save signal settings")
    page.wait_for_load_state("networkidle")
    pipeline.refresh_from_db()
    assert {s["signal_type"] for s in pipeline.signal_subscriptions} == {"mock", "volume_spike"}

    # The builder says what the trigger means for a signal's run.
    page.goto(f"/pipelines/{pipeline.pk}/edit/")
    page.wait_for_selector(".df-card[data-node-id='trigger'] [data-signal-note]:not([hidden])")
    assert "checked once" in page.inner_text("[data-testid=signal-trigger-note]")
    camera("signal-builder")

    # Activating starts nothing: no "Continuous restart" runs, no waiting run.
    page.goto(f"/pipelines/{pipeline.pk}/")
    page.click("[data-testid=activate]")
    page.wait_for_selector("[data-testid=pipeline-status]:has-text('Active')")
    assert "Activating starts nothing" in page.inner_text("[data-testid=on-signal-note]")
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 0
    camera("signal-pipeline-active")

    bus = RedisStreamBus()
    dispatcher = Dispatcher(bus=bus, consumer=f"browser-{uuid.uuid4().hex[:6]}", block_ms=200)
    dispatcher.start()
    try:
        with time_machine.travel(SESSION, tick=True), celery_worker():
            bus.publish(signal_body(signal_type="mock", tickers=[("TSLA", 80)]), owner_id=user.pk)
            results = []
            while not results:
                results = [r for r in dispatcher.run_once() if r.status == "processed"]
            assert len(results[0].started) == 1
            execution = PipelineExecution.objects.get(pipeline=pipeline)
            page.goto(f"/executions/{execution.pk}/")
            page.wait_for_function(
                "() => document.querySelector('[data-testid=execution-status]').textContent"
                " === 'Completed'",
                timeout=90_000,
            )
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.COMPLETED
        assert execution.trigger_detail["symbols"] == ["TSLA"]
        trade = Trade.objects.get(pipeline_id=pipeline.pk)
        assert trade.symbol == "TSLA"
        page.reload()
        assert "TSLA" in page.inner_text("#steps-body")
        assert "(filled)" in page.inner_text("#steps-body")
        camera("signal-execution")

        # A second signal while the TSLA position is open: skipped, and the page says why.
        with time_machine.travel(SESSION, tick=True):
            bus.publish(
                signal_body(signal_type="volume_spike", tickers=[("AAPL", 70)]), owner_id=user.pk
            )
            second = []
            while not second:
                second = [r for r in dispatcher.run_once() if r.status == "processed"]
        assert second[0].started == []
    finally:
        dispatcher.close()
    assert PipelineExecution.objects.filter(pipeline=pipeline).count() == 1
    page.goto("/signals/")
    page.wait_for_selector("text=Waiting for its TSLA position to close.")
    camera("signal-feed")

    assert Position.objects.get(pipeline_id=pipeline.pk, status="open").symbol == "TSLA"
    page.goto("/trading/positions/")
    page.wait_for_selector("#positions-body:has-text('TSLA')")
    camera("signal-positions")
    assert not page.console_errors, page.console_errors


def test_a_waiting_run_says_what_it_waits_for_is_cancelled_and_run_now_skips_the_trigger(
    page, screenshots, live_server_url
):
    from accounts.models import User
    from pipelines import services as pipeline_services
    from pipelines.blueprints import pipeline_create_from_blueprint
    from pipelines.models import ExecutionStatus, PipelineExecution

    camera = Camera(page, screenshots)
    email = f"waiting-{uuid.uuid4().hex[:6]}@example.com"
    page.goto("/accounts/signup/")
    page.fill("#id_full_name", "Wendy Waiting")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    user = User.objects.get(email=email)
    graph = _issue_graph()
    graph["nodes"][0]["config"]["level"] = 90_000  # never met: the run waits
    pipeline, _ = pipeline_create_from_blueprint(owner=user, key="day_trading_5m")
    pipeline_services.pipeline_update(pipeline=pipeline, name="Patient crew", graph=graph)

    page.goto(f"/pipelines/{pipeline.pk}/")
    assert "Run when the trigger fires" in page.inner_text("[data-testid=run-now]")
    page.click("[data-testid=run-now]")
    page.wait_for_url("**/executions/*/")
    waiting = page.locator("[data-testid=waiting-state]")
    with celery_worker():
        waiting.wait_for(state="visible", timeout=60_000)
    text = waiting.inner_text()
    assert "price above 90000" in text and "Next check" in text
    camera("waiting-run")

    page.click("[data-testid=cancel-waiting]")
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    assert "stops waiting for its trigger" in dialog.inner_text()
    page.click("#confirm-ok")
    page.wait_for_selector("[data-testid=execution-status]:has-text('Cancelled')")
    assert PipelineExecution.objects.get(pipeline=pipeline).status == ExecutionStatus.CANCELLED

    page.goto(f"/pipelines/{pipeline.pk}/")
    page.click("[data-testid=run-skip-trigger]")
    page.wait_for_url("**/executions/*/")
    with celery_worker():
        page.wait_for_function(
            "() => document.querySelector('[data-testid=execution-status]').textContent"
            " === 'Completed'",
            timeout=90_000,
        )
    page.reload()
    assert "Skipped: started with “Run now (skip the trigger)”" in page.inner_text("#steps-body")
    camera("run-now-skipped-trigger")
    assert not page.console_errors, page.console_errors
