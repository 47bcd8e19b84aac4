"""Backtesting from the page, in Chromium against daphne and a real Celery worker: open a
pipeline, press Backtest, upload a CSV of bars, start a backtest and watch its progress arrive
over the websocket, see the results; start another and cancel it through the confirmation.
Photographed at 1280×800 and 390×844."""

from __future__ import annotations

import pytest
from backtesting.test import GOOG

from tests.browser.test_browser_trader_flow import Camera, celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.celery, pytest.mark.django_db(transaction=True)]

EMAIL = "backtester@example.com"
PASSWORD = "correct-horse-battery-42"


def test_a_trader_backtests_a_pipeline_watches_it_and_cancels_another(
    page, screenshots, live_server_url, tmp_path
):
    from django.conf import settings
    from django.test import Client

    from accounts.tests.factories import UserFactory
    from pipelines.models import Backtest, Pipeline
    from pipelines.tests.test_backtest_engine import SMA_CROSS_GRAPH

    user = UserFactory(email=EMAIL, password=PASSWORD)
    pipeline = Pipeline.objects.create(owner=user, name="SMA cross", graph=SMA_CROSS_GRAPH)
    camera = Camera(page, screenshots)
    frame = GOOG.rename(columns=str.lower)
    frame.index.name = "timestamp"
    csv_file = tmp_path / "goog.csv"
    frame.to_csv(csv_file, date_format="%Y-%m-%d")

    # Signed in through a session made here (the server's password hasher differs from the
    # tests' fast one; the sign-in page itself is the trader flow's to test).
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server_url,
            }
        ]
    )

    # --- From the pipeline to its backtests: no history yet
    page.goto(f"/pipelines/{pipeline.pk}/")
    page.click("[data-testid=backtest]")
    page.wait_for_url(f"**/pipelines/{pipeline.pk}/backtests/")
    assert page.locator(".empty-state").first.is_visible()
    camera("backtest-empty")

    # --- Upload a CSV
    page.click("summary:has-text('Upload a CSV')")
    page.set_input_files("input[type=file][name=file]", str(csv_file))
    page.fill("form[enctype] input[name=symbol]", "GOOG")
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("[data-testid=datasets]")
    assert "2148 1d bars" in page.inner_text("[data-testid=datasets]")

    # --- Start a backtest and watch it over the websocket
    page.fill("#id_initial_cash", "10000")
    page.fill("#id_commission_pct", "0.2")
    page.fill("#id_commission_per_share", "0")
    camera("backtest-form")
    page.click("[data-testid=start-backtest]")
    page.wait_for_url("**/backtests/*/")
    assert page.inner_text("[data-testid=backtest-status]") == "Waiting for a worker"
    # The socket is up before the worker starts, so the progress arrives as pushes.
    page.wait_for_function("() => document.querySelector('#live-events') !== null")
    with celery_worker():
        page.wait_for_selector("[data-testid=backtest-progress][data-status=completed]")
        assert "2148 of 2148 bars (100%)" in page.inner_text("[data-testid=backtest-bars]")
        page.click("[data-testid=show-results]")
        page.wait_for_selector("[data-testid=backtest-results]")
        assert page.inner_text("[data-testid=final-equity]") == "$63,341.19"
        assert page.locator("[data-testid=backtest-trades] tbody tr").count() == 47
        camera("backtest-results")

        # --- A sweep of two values, run by the worker as Celery chunks
        page.goto(f"/pipelines/{pipeline.pk}/backtests/")
        page.fill("#id_commission_pct", "0.2")
        page.click("summary:has-text('sweep up to two config values')")
        page.fill("input[name=param_1]", "risk.equity_fraction_pct")
        page.fill("input[name=values_1]", "25, 50, 100")
        page.fill("input[name=param_2]", "trade.exit_logic")
        page.fill("input[name=values_2]", "OR, AND")
        page.click("[data-testid=start-sweep]")
        page.wait_for_url("**/sweeps/*/")
        for _ in range(120):
            if "6 of 6 combinations finished" in page.inner_text("main"):
                break
            page.wait_for_timeout(500)
            page.reload()
        assert page.inner_text("[data-testid=sweep-status]") == "Completed"
        assert page.locator("[data-testid=sweep-heatmap] tbody tr").count() == 2
        camera("backtest-sweep")

    # --- Another one, cancelled while it waits for a worker
    page.goto(f"/pipelines/{pipeline.pk}/backtests/")
    page.click("[data-testid=start-backtest]")
    page.wait_for_url("**/backtests/*/")
    page.click("[data-testid=cancel-backtest]")
    page.click("#confirm-ok")
    page.wait_for_selector("[data-testid=backtest-progress][data-status=cancelled]")
    camera("backtest-cancelled")

    page.goto(f"/pipelines/{pipeline.pk}/backtests/")
    history = page.inner_text("[data-testid=backtest-history]")
    assert "Completed" in history and "Cancelled" in history
    camera("backtest-history")
    statuses = sorted(Backtest.objects.filter(pipeline=pipeline).values_list("status", flat=True))
    assert statuses == ["cancelled"] + ["completed"] * 7
    assert page.console_errors == []
