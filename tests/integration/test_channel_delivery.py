"""Notification channels end to end: a fill reaches loopback fakes of Telegram, Discord and Slack
through the real Apprise library and a real Celery worker; a failing channel is retried with
backoff and never holds the run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accounts.channels import channel_create
from accounts.models import NotificationChannel
from pipelines.models import ExecutionStatus
from pipelines.tests.test_paper_trading import KEY, SECRET, paper_pipeline, run
from tests.fakes.alpaca import FakeAlpaca
from tests.fakes.chat import FakeChatServices
from trading.models import Trade

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TELEGRAM_TOKEN = "123456789:AAHfakeTelegramBotToken_0123456789"
DISCORD_WEBHOOK = "https://discord.com/api/webhooks/1234567890123/fakeDiscordWebhookToken_abcdef"
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0FAKE01/B0FAKE02/fakeSlackToken123456"


@pytest.fixture
def alpaca(settings):
    with FakeAlpaca(api_key=KEY, secret_key=SECRET) as server:
        settings.ALPACA_PAPER_URL = server.url
        yield server


@pytest.fixture
def chat():
    with FakeChatServices() as server:
        yield server


@pytest.fixture
def empty_queue():
    from config.celery import app as celery_app

    celery_app.control.purge()


def _worker(chat: FakeChatServices) -> subprocess.Popen:
    """A real Celery worker on the default queue (where deliveries go), on the test database,
    with Apprise pointed at the fakes and a short retry backoff."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{database['USER']}@/{database['NAME']}?host={database['HOST']}",
        "NOTIFY_TELEGRAM_API_URL": chat.url,
        "NOTIFY_DISCORD_API_URL": chat.url,
        "NOTIFY_SLACK_API_URL": chat.url,
        "NOTIFY_RETRY_BACKOFF_SECONDS": "0.2",
        "WORKER_METRICS_PORT": "0",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "threads"]
    command += ["-c", "2", "-Q", "default", "--without-mingle", "--without-gossip", "-l", "WARNING"]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _wait_for(condition, *, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the deliveries"
        time.sleep(0.2)


def _channels(owner, events=("fills",)):
    return [
        channel_create(
            owner=owner, kind="telegram", fields={"bot_token": TELEGRAM_TOKEN, "chat_id": "-100123"}
        ),
        channel_create(owner=owner, kind="discord", fields={"webhook_url": DISCORD_WEBHOOK}),
        channel_create(owner=owner, kind="slack", fields={"webhook_url": SLACK_WEBHOOK}),
    ]


def test_it_sends_a_fill_to_telegram_discord_and_slack(owner, outsider, alpaca, chat, empty_queue):
    _channels(owner)
    channel_create(
        owner=outsider,
        kind="telegram",
        fields={"bot_token": TELEGRAM_TOKEN, "chat_id": "-100999"},
    )
    execution = run(paper_pipeline(owner, symbols=("TSLA", "JPM")))
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    trades = list(Trade.objects.filter(owner=owner))
    assert trades

    worker = _worker(chat)
    try:
        _wait_for(
            lambda: (
                all(len(chat.messages(s)) == len(trades) for s in ("telegram", "discord", "slack"))
                and NotificationChannel.objects.filter(
                    owner=owner, last_sent_at__isnull=True
                ).count()
                == 0
            )
        )
    finally:
        _stop(worker)

    trade = trades[0]
    telegram = [m for m in chat.messages("telegram") if trade.symbol in m["text"]]
    assert len(telegram) == 1
    assert str(telegram[0]["chat_id"]) == "-100123"  # the owner's chat, not the outsider's
    assert f"{trade.quantity} @ {trade.entry_price:,.2f}" in telegram[0]["text"]
    assert [m for m in chat.messages("discord") if trade.symbol in str(m)]
    assert [m for m in chat.messages("slack") if trade.symbol in str(m)]
    assert not chat.errors


def test_a_failing_channel_is_retried_and_does_not_hold_the_run(owner, alpaca, chat, empty_queue):
    telegram = channel_create(
        owner=owner, kind="telegram", fields={"bot_token": TELEGRAM_TOKEN, "chat_id": "-100123"}
    )
    chat.fail_next(2, status=502, path=r"^/bot")

    # No worker is running: the run completes on its own, its deliveries wait in the queue.
    execution = run(paper_pipeline(owner, symbols=("TSLA", "JPM")))
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    fills = Trade.objects.filter(owner=owner).count()
    assert fills
    assert not chat.requests

    worker = _worker(chat)
    try:
        _wait_for(lambda: len(chat.messages("telegram")) == fills)
    finally:
        _stop(worker)

    statuses = sorted(r.status for r in chat.requests if r.path.startswith("/bot"))
    assert statuses == [200] * fills + [502, 502]
    # Each fill was delivered exactly once, retries included.
    texts = [m["text"] for m in chat.messages("telegram")]
    assert len(set(texts)) == fills
    telegram.refresh_from_db()
    assert telegram.failures == 2
    assert telegram.last_error == ""
    assert telegram.last_sent_at is not None
