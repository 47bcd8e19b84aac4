"""Billing in the browser: the Billing page in the navigation, a refused activation with its
upgrade prompt, Checkout at a loopback Stripe, the signed webhook, the raised limit, and the
builder's live cost estimate. The server runs with ENFORCE_SUBSCRIPTION_LIMITS on and the stripe
SDK pointed at tests/fakes/stripe.py."""

from __future__ import annotations

import os
import time
from urllib.request import Request, urlopen

import pytest

from tests.browser.test_browser_trader_flow import Camera
from tests.fakes.stripe import FakeStripe

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "bill@example.com"


@pytest.fixture(scope="module", autouse=True)
def stripe_for_the_server():
    """Started before the server (autouse fixtures come first), which reads these variables."""
    with FakeStripe() as fake:
        names = {
            "ENFORCE_SUBSCRIPTION_LIMITS": "true",
            "STRIPE_SECRET_KEY": fake.api_key,
            "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
            "STRIPE_API_BASE": fake.url,
            "STRIPE_PRICE_BASIC": "price_basic",
            "STRIPE_PRICE_PRO": "price_pro",
            "STRIPE_PRICE_ENTERPRISE": "price_enterprise",
            "STRIPE_PRICE_USAGE": "price_usage",
        }
        previous = {name: os.environ.get(name) for name in names}
        os.environ.update(names)
        try:
            yield fake
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def run_a_few_times(owner, times: int):
    """Real rules-engine runs of a run-once pipeline, at the last session's 10:00 New York (so
    the time trigger passes): history for the estimates and their accuracy."""
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone

    from pipelines import engine, services
    from pipelines.blueprints import pipeline_create_from_blueprint
    from pipelines.models import PipelineExecution
    from trading import calendar
    from trading.clock import ManualClock

    today = timezone.now().date()
    session = calendar.sessions_between(today - timedelta(days=10), today - timedelta(days=1))[-1]
    clock = ManualClock(datetime.combine(session, datetime.min.time(), UTC) + timedelta(hours=15))
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="day_trading_5m", name="Runs")
    for number in range(times):
        execution = services.execution_start(pipeline=pipeline, enqueue=False)
        status = engine.execution_run(execution_id=execution.pk, task_id=f"b{number}", clock=clock)
        assert status == "completed", PipelineExecution.objects.get(pk=execution.pk).error


def test_a_trader_hits_the_plan_limit_upgrades_and_activates(
    page, screenshots, live_server_url, stripe_for_the_server
):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from accounts.models import User
    from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
    from pipelines.blueprints import pipeline_create_from_blueprint
    from pipelines.models import PipelineStatus, RunMode

    fake = stripe_for_the_server
    camera = Camera(page, screenshots)
    user = UserFactory(email=EMAIL, full_name="Bill Buyer", subscription_tier="FREE")
    # The server checks passwords with the production hashers, not the tests' fast MD5 one.
    user.password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "billingsalt")
    user.save(update_fields=["password"])
    made = [pipeline_create_from_blueprint(owner=user, key="day_trading_5m")[0] for _ in range(3)]
    # On-signal pipelines: activating one makes it active (a run-once pipeline just runs).
    for number, pipeline in enumerate(made):
        pipeline.run_mode = RunMode.RUN_ON_SIGNAL
        if number < 2:
            pipeline.status = PipelineStatus.ACTIVE
        pipeline.save()
    third = made[2]
    run_a_few_times(user, 6)

    page.goto("/accounts/login/")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")

    # Billing is in the navigation, and shows the plan, the limit used and usage.
    page.click("nav.app-nav >> text=Billing")
    page.wait_for_url(f"{live_server_url}/billing/")
    assert page.inner_text("[data-testid=plan-badge]") == "Free plan"
    assert page.inner_text("[data-testid=pipelines-used]") == "2/2"
    assert page.locator("[data-testid=upgrade-prompt]").is_visible()
    camera("billing-free-at-limit")

    # Activating a third pipeline is refused with an upgrade prompt.
    page.goto(f"/pipelines/{third.pk}/")
    page.click("[data-testid=activate]")
    dialog_button = page.locator("#confirm-dialog button[type=submit]")
    if dialog_button.is_visible():
        dialog_button.click()
    page.wait_for_selector(".flash-error")
    flash = page.inner_text(".flash-error")
    assert "Your Free plan allows 2 active pipelines" in flash
    third.refresh_from_db()
    assert third.status != PipelineStatus.ACTIVE
    camera("activation-refused-upgrade-prompt")

    # Upgrade: Checkout at (fake) Stripe, then Stripe's signed webhooks reach the app.
    page.click(".flash-error a")
    page.wait_for_url(f"{live_server_url}/billing/")
    page.click("button:has-text('Upgrade to Pro')")
    page.wait_for_url(f"{fake.url}/pay/*")
    session_id = page.inner_text("#session")
    for payload, signature in fake.complete_checkout(
        session_id, period_end=int(time.time()) + 30 * 86400
    ):
        request = Request(  # noqa: S310 - the test's own server
            f"{live_server_url}/billing/stripe/webhook/",
            data=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            method="POST",
        )
        with urlopen(request, timeout=10) as response:  # noqa: S310 - the test's own server
            assert response.status == 200
    assert User.objects.get(pk=user.pk).subscription_tier == "PRO"

    page.goto("/billing/")
    assert page.inner_text("[data-testid=plan-badge]") == "Pro plan"
    assert page.inner_text("[data-testid=pipelines-used]") == "2/20"
    assert not page.locator("[data-testid=upgrade-prompt]").count()
    # The next invoice is Stripe's preview: the Pro plan plus the usage reported so far.
    assert page.inner_text("[data-testid=next-invoice]") == "$99.00"
    # Six rules-engine runs cost fractions of a millionth of a dollar: the accuracy figure
    # is the bounded symmetric error, not hundreds of thousands of percent.
    figure = page.inner_text("[data-testid=accuracy-figure]")
    assert 0 <= float(figure.rstrip("%")) < 200, figure
    assert (
        "over your last 6 completed runs"
        in page.inner_text("[data-testid=estimate-accuracy]").lower()
    )
    camera("billing-pro")
    page.goto("/analytics/costs/")
    assert page.inner_text("[data-testid=accuracy-figure]") == figure
    camera("costs-with-accuracy")

    # The limit is raised: the third pipeline activates.
    page.goto(f"/pipelines/{third.pk}/")
    page.click("[data-testid=activate]")
    dialog_button = page.locator("#confirm-dialog button[type=submit]")
    if dialog_button.is_visible():
        dialog_button.click()
    page.wait_for_selector(".flash-success")
    third.refresh_from_db()
    assert third.status == PipelineStatus.ACTIVE

    # The portal opens a (fake) Stripe session.
    page.goto("/billing/")
    page.click("button:has-text('Manage cards')")
    page.wait_for_url(f"{fake.url}/portal/*")
    assert len(fake.portal_sessions) == 1

    # The builder shows the estimate live as the pipeline is edited.
    page.goto(f"/pipelines/{third.pk}/edit/")
    page.wait_for_selector("[data-testid=estimate-per-run]")
    assert "a run" in page.inner_text("[data-testid=cost-estimate]")
    camera("builder-estimate")
    # (the fake Stripe pages have no favicon; only our pages must be clean)
    assert [e for e in page.console_errors if fake.url not in e] == []
