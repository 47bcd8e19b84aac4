"""Backtesting from the page, in Chromium against daphne and a real Celery worker: open a
pipeline, press Backtest, upload a CSV of bars, start a backtest and watch its progress arrive
over the websocket, see its results in analytics (metric cards, equity and drawdown,
breakdowns) and its candlestick chart; a sweep and a walk-forward watched over the socket;
cancel a backtest and a sweep through the confirmation; compare two backtests on the
comparison page. Photographed at 1280×800 and 390×844."""

from __future__ import annotations

import time

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
    from pipelines.blueprints import pipeline_create_from_blueprint
    from pipelines.models import Backtest, Pipeline
    from pipelines.tests.test_backtest_engine import SMA_CROSS_GRAPH

    user = UserFactory(email=EMAIL, password=PASSWORD)
    pipeline = Pipeline.objects.create(owner=user, name="SMA cross", graph=SMA_CROSS_GRAPH)
    golden, _ = pipeline_create_from_blueprint(owner=user, key="golden_cross_1d")
    camera = Camera(page, screenshots)
    # What the server pushes over the websocket (the pages also poll while something runs, to
    # heal a push lost in a race; the frames show the pushes themselves arrived).
    pushed: list[str] = []

    def wait_pushed(marker: str, also: str = "") -> None:
        """Until a pushed frame holds the marker (the page may have polled the same state
        first; the push follows within moments)."""
        deadline = time.monotonic() + 30
        while not any(marker in f and also in f for f in pushed):
            assert time.monotonic() < deadline, f"no push with {marker} {also}"
            page.wait_for_timeout(100)  # lets Playwright deliver the frames meanwhile

    page.on(
        "websocket",
        lambda socket: socket.on(
            "framereceived",
            lambda frame: pushed.append(frame if isinstance(frame, str) else frame.decode()),
        ),
    )
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
    page.wait_for_selector("#live-events[data-opened='1']", state="attached")
    with celery_worker():
        page.wait_for_selector("[data-testid=backtest-progress][data-status=completed]")
        assert "2148 of 2148 bars (100%)" in page.inner_text("[data-testid=backtest-bars]")
        wait_pushed('id="backtest-progress"', 'data-status="completed"')
        page.click("[data-testid=show-results]")
        page.wait_for_selector("[data-testid=backtest-results]")
        assert page.inner_text("[data-testid=final-equity]") == "$63,341.19"
        assert page.locator("[data-testid=backtest-trades] tbody tr").count() == 47
        # Why the first trade was entered, one click away.
        why = page.locator("[data-testid=trade-reasoning]").first
        why.locator("summary").click()
        assert "Trigger: sma_10 crosses above sma_20 (1d)." in why.inner_text()
        # Analytics' own cards and charts, loaded into the backtest page from analytics.
        page.wait_for_selector("#backtest-figures [data-testid=metric-cards]")
        page.wait_for_selector("[data-equity-chart][data-drawn='1']")
        page.wait_for_selector(".chart-list .chart-card canvas")  # the candlestick chart
        camera("backtest-results")

        # --- The same results on Analytics' page for the backtest
        page.click("[data-testid=results-in-analytics]")
        page.wait_for_url("**/analytics/backtests/*/")
        page.wait_for_selector("[data-equity-chart][data-drawn='1']")
        cards = page.locator("[data-testid=metric-cards]")
        shown = Backtest.objects.get(pk=page.url.rstrip("/").split("/")[-1])
        trades = cards.locator("[data-metric=trades] .stat-value").inner_text()
        assert trades == str(shown.trades_count)
        assert cards.locator("[data-metric=net_pnl] .stat-value").inner_text().startswith("+$")
        assert page.locator("[data-breakdown=close_reason]").is_visible()
        camera("backtest-analytics")

    # --- A sweep of two values, run by the worker as Celery chunks, watched over the socket
    # (started before the worker, so the page's socket is up before the first chunk runs)
    page.goto(f"/pipelines/{pipeline.pk}/backtests/")
    page.fill("#id_commission_pct", "0.2")
    page.click("summary:has-text('sweep up to two config values')")
    page.fill("input[name=param_1]", "risk.equity_fraction_pct")
    page.fill("input[name=values_1]", "25, 50, 100")
    page.fill("input[name=param_2]", "trade.exit_logic")
    page.fill("input[name=values_2]", "OR, AND")
    page.click("[data-testid=start-sweep]")
    page.wait_for_url("**/sweeps/*/")
    page.wait_for_selector("#live-events[data-opened='1']", state="attached")
    with celery_worker():
        page.wait_for_selector("[data-testid=sweep-live][data-status=completed]", timeout=120_000)
        assert "6 of 6 combinations finished (100%)" in page.inner_text("[data-testid=sweep-count]")
        wait_pushed('id="sweep-live"')
        assert page.locator("[data-testid=sweep-heatmap] tbody tr").count() == 2
        assert page.locator("[data-testid=cancel-sweep]").count() == 0
        camera("backtest-sweep")

        # --- Walk-forward over the same grid: out-of-sample windows only
        page.goto(f"/pipelines/{pipeline.pk}/backtests/")
        page.fill("#id_commission_pct", "0.2")
        page.click("summary:has-text('sweep up to two config values')")
        page.fill("input[name=param_1]", "risk.equity_fraction_pct")
        page.fill("input[name=values_1]", "50, 100")
        page.fill("input[name=in_sample_bars]", "500")
        page.fill("input[name=out_of_sample_bars]", "250")
        page.click("[data-testid=start-walkforward]")
        page.wait_for_url("**/walkforwards/*/")
        page.wait_for_selector("[data-testid=walkforward-live][data-status=completed]")
        assert page.locator("[data-testid=walkforward-table] tbody tr").count() == 6
        assert page.inner_text("[data-testid=combinations-tried]") == "2"
        assert "2 combinations tried" in page.inner_text("[data-testid=overfitting-warning]")
        camera("backtest-walkforward")

        # --- A template with a bracket on synthetic history fetched from the page: every
        # trade's stop and targets drawn on the candles
        page.goto(f"/pipelines/{golden.pk}/backtests/")
        page.click("summary:has-text('Fetch from the synthetic market')")
        # Its bias reads 4h bars: the form offers them, and says why.
        assert page.input_value("[data-testid=fetch-timeframe]") == "4h"
        assert "4h bars or finer" in page.inner_text("[data-testid=timeframe-needed]")
        page.fill("[data-testid=fetch-form] input[name=start]", "2023-01-02")
        page.fill("[data-testid=fetch-form] input[name=end]", "2025-12-31")
        page.click("[data-testid=fetch-form] button[type=submit]")
        page.wait_for_selector("[data-testid=datasets] li:has-text('AAPL')")
        aapl = page.locator("#id_dataset option", has_text="AAPL").get_attribute("value")
        page.select_option("#id_dataset", aapl)
        page.click("[data-testid=start-backtest]")
        page.wait_for_url("**/backtests/*/")
        page.wait_for_selector("[data-testid=backtest-progress][data-status=completed]")
        page.click("[data-testid=show-results]")
        page.wait_for_selector(".chart-list .chart-card canvas")
        page.wait_for_selector("[data-equity-chart][data-drawn='1']")
        page.locator(".chart-list").scroll_into_view_if_needed()
        camera("backtest-brackets", full_page=False)

    # --- Another backtest, cancelled while it waits for a worker
    page.goto(f"/pipelines/{pipeline.pk}/backtests/")
    page.click("[data-testid=start-backtest]")
    page.wait_for_url("**/backtests/*/")
    page.click("[data-testid=cancel-backtest]")
    page.click("#confirm-ok")
    page.wait_for_selector("[data-testid=backtest-progress][data-status=cancelled]")
    camera("backtest-cancelled")

    # --- A sweep cancelled before any worker took it: none of its combinations runs
    page.goto(f"/pipelines/{pipeline.pk}/backtests/")
    page.click("summary:has-text('sweep up to two config values')")
    page.fill("input[name=param_1]", "risk.equity_fraction_pct")
    page.fill("input[name=values_1]", "10, 20")
    page.click("[data-testid=start-sweep]")
    page.wait_for_url("**/sweeps/*/")
    page.click("[data-testid=cancel-sweep]")
    page.click("#confirm-ok")
    page.wait_for_selector("[data-testid=sweep-live][data-status=cancelled]")
    assert "2 cancelled" in page.inner_text("[data-testid=sweep-count]")

    page.goto(f"/pipelines/{pipeline.pk}/backtests/")
    history = page.inner_text("[data-testid=backtest-history]")
    assert "Completed" in history and "Cancelled" in history
    camera("backtest-history")
    statuses = sorted(Backtest.objects.filter(pipeline=pipeline).values_list("status", flat=True))
    assert statuses == ["cancelled"] * 3 + ["completed"] * 7

    # --- Analytics lists the backtests; two of them compared side by side
    page.goto("/analytics/")
    page.click("[data-testid=backtest-sources] summary")
    assert page.locator("[data-testid=backtest-sources] a").count() == 8  # 7 + the template's
    page.goto("/analytics/compare/")
    picks = page.locator("[data-testid=compare-backtests] input[type=checkbox]")
    assert picks.count() == 8
    picks.nth(0).check()
    picks.nth(1).check()
    page.click("[data-testid=compare-submit]")
    page.wait_for_selector("[data-testid=compare-table]")
    page.wait_for_selector("[data-compare-chart][data-drawn='1']")
    assert page.locator("[data-testid=compare-table] thead th").count() == 3
    camera("backtest-compare")
    assert page.console_errors == []
