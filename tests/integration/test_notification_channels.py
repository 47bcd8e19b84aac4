"""Notification channels on Settings and what is queued for them: adding one (secrets encrypted,
the wrong field named), choosing events, the test message, removal after confirmation, owner
scoping; and which trader events reach which channels, the end-of-day summary included."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.channels import channel_create
from accounts.models import NotificationChannel
from accounts.tests.channel_support import SLACK, TOKEN
from billing.models import DailyCost
from pipelines.models import ExecutionStatus, PipelineExecution
from pipelines.notifications import (
    daily_summaries_send,
    execution_failed_notify,
    trades_closed_notify,
)
from pipelines.services import pipeline_create
from pipelines.tests.factories import minimal_graph
from trading.models import Trade

pytestmark = pytest.mark.django_db


def _telegram(owner, **extra):
    return channel_create(
        owner=owner, kind="telegram", fields={"bot_token": TOKEN, "chat_id": "-100123"}, **extra
    )


def test_it_adds_a_channel_and_stores_its_secret_encrypted(owner_client, owner):
    response = owner_client.post(
        reverse("accounts:channel-add"),
        {
            "channel-kind": "telegram",
            "channel-bot_token": TOKEN,
            "channel-chat_id": "-100123",
            "channel-events": ["fills"],
        },
    )
    assert response.status_code == 302
    channel = NotificationChannel.objects.get(owner=owner)
    assert channel.target == f"tgram://{TOKEN}/-100123/"
    assert channel.events == ["fills"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT target FROM accounts_notificationchannel WHERE id = %s", [channel.pk]
        )
        (stored,) = cursor.fetchone()
    assert TOKEN not in stored and "tgram" not in stored
    html = owner_client.get(reverse("accounts:settings")).content.decode()
    assert "chat -100123" in html and TOKEN not in html
    assert "Send a test message" in html


def test_it_names_the_wrong_field_and_saves_nothing(owner_client, owner):
    response = owner_client.post(
        reverse("accounts:channel-add"),
        {"channel-kind": "discord", "channel-webhook_url": "https://example.com/not-discord"},
    )
    assert response.status_code == 400
    assert "Paste the webhook URL" in response.content.decode()
    assert not NotificationChannel.objects.exists()

    response = owner_client.post(
        reverse("accounts:channel-add"),
        {"channel-kind": "telegram", "channel-bot_token": "nope", "channel-chat_id": "1"},
    )
    assert response.status_code == 400
    assert "A bot token looks like" in response.content.decode()
    assert not NotificationChannel.objects.exists()


def test_it_turns_webhooks_into_apprise_urls(owner):
    slack = channel_create(owner=owner, kind="slack", fields={"webhook_url": SLACK})
    assert slack.target == "slack://T0FAKE01/B0FAKE02/fakeSlackToken123456/"
    hook = channel_create(
        owner=owner, kind="webhook", fields={"webhook_url": "https://ops.example.com/tc/hook"}
    )
    assert hook.target == "jsons://ops.example.com/tc/hook"
    assert hook.hint == "ops.example.com"


def test_it_saves_the_events_a_channel_sends(owner_client, owner):
    channel = _telegram(owner)
    response = owner_client.post(
        reverse("accounts:channel-update", args=[channel.pk]),
        {"events": ["stops", "daily_summary"], "enabled": "on"},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.events == ["stops", "daily_summary"] and channel.enabled
    owner_client.post(reverse("accounts:channel-update", args=[channel.pk]), {"events": []})
    channel.refresh_from_db()
    assert channel.events == [] and not channel.enabled


def test_the_test_button_queues_one_message(
    owner_client, owner, queued, django_capture_on_commit_callbacks
):
    channel = _telegram(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("accounts:channel-test", args=[channel.pk]))
    assert response.status_code == 302
    [(channel_id, title, body)] = queued()
    assert channel_id == channel.pk and title == "Tradecrew test message"
    assert "Telegram" in body


def test_removing_asks_to_confirm_first(owner_client, owner):
    channel = _telegram(owner)
    url = reverse("accounts:channel-remove", args=[channel.pk])
    response = owner_client.post(url)
    assert response.status_code == 200 and "Remove the channel" in response.content.decode()
    assert NotificationChannel.objects.filter(pk=channel.pk).exists()
    owner_client.post(url, {"confirmed": "yes"})
    assert not NotificationChannel.objects.filter(pk=channel.pk).exists()


def test_another_users_channel_is_404_and_unchanged(client, owner, outsider):
    channel = _telegram(owner, events=["fills"])
    client.force_login(outsider)
    for name, data in [
        ("accounts:channel-update", {"events": ["stops"]}),
        ("accounts:channel-test", {}),
        ("accounts:channel-remove", {"confirmed": "yes"}),
    ]:
        assert client.post(reverse(name, args=[channel.pk]), data).status_code == 404
    channel.refresh_from_db()
    assert channel.events == ["fills"] and channel.enabled


def _trade(owner, **fields) -> Trade:
    defaults = {
        "owner": owner,
        "trading_mode": "PAPER",
        "symbol": "AAPL",
        "side": "long",
        "quantity": 10,
        "remaining_quantity": 0,
        "requested_entry_price": Decimal("100"),
        "entry_price": Decimal("100"),
        "stop_loss": Decimal("95"),
        "initial_stop_loss": Decimal("95"),
        "target_1": Decimal("105"),
        "target_2": Decimal("110"),
        "opened_at": timezone.now(),
        "status": "closed",
    }
    defaults.update(fields)
    return Trade.objects.create(**defaults)


def test_a_stop_goes_only_to_channels_that_chose_stops(
    owner, outsider, queued, django_capture_on_commit_callbacks
):
    stops = _telegram(owner, events=["stops"])
    _telegram(owner, events=["fills", "targets"])
    _telegram(outsider, events=["stops"])
    trade = _trade(
        owner, close_reason="stop_hit", exit_price=Decimal("95"), realized_pnl=Decimal("-50")
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert trades_closed_notify(trade_ids=[trade.pk]) == 1
    [(channel_id, title, body)] = queued()
    assert channel_id == stops.pk
    assert title == "AAPL: stop loss hit, P&L −$50.00"
    assert "at 95.00" in body


def test_a_budget_refusal_and_a_failure_go_to_their_own_channels(
    owner, queued, django_capture_on_commit_callbacks
):
    budget = _telegram(owner, events=["budget"])
    errors = _telegram(owner, events=["errors"])
    pipeline, _ = pipeline_create(owner=owner, name="Gap scalper", graph=minimal_graph())
    refused = PipelineExecution.objects.create(
        pipeline=pipeline,
        owner=owner,
        status=ExecutionStatus.FAILED,
        error="Budget: your daily budget is $1.00, $1.00 is spent and this run is estimated at …",
    )
    crashed = PipelineExecution.objects.create(
        pipeline=pipeline, owner=owner, status=ExecutionStatus.FAILED, error="Market data down."
    )
    completed = PipelineExecution.objects.create(
        pipeline=pipeline, owner=owner, status=ExecutionStatus.COMPLETED
    )
    with django_capture_on_commit_callbacks(execute=True):
        execution_failed_notify(execution_id=refused.pk)
        execution_failed_notify(execution_id=crashed.pk)
        assert execution_failed_notify(execution_id=completed.pk) == 0
    sent = {channel_id: title for channel_id, title, _ in queued()}
    assert sent == {
        budget.pk: f"“{pipeline.name}” stopped by a budget",
        errors.pk: f"“{pipeline.name}” run failed",
    }


def test_the_daily_summary_is_sent_once_per_session(
    owner, queued, django_capture_on_commit_callbacks
):
    channel = _telegram(owner, events=["daily_summary"])
    _telegram(owner, events=["fills"])
    # Friday 2026-11-27 closed early (13:00 New York) after Thanksgiving.
    after_close = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    session = after_close.date()
    closed_at = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)
    _trade(owner, opened_at=closed_at, closed_at=closed_at, realized_pnl=Decimal("120.50"))
    _trade(owner, opened_at=closed_at, closed_at=closed_at, realized_pnl=Decimal("-20"))
    DailyCost.objects.create(owner=owner, pipeline_id=None, day=session, total_cost=Decimal("0.42"))

    with django_capture_on_commit_callbacks(execute=True):
        assert daily_summaries_send(now=after_close) == 1
        assert daily_summaries_send(now=after_close) == 0  # not twice for one session
    [(channel_id, title, body)] = queued()
    assert channel_id == channel.pk
    assert title == "Tradecrew daily summary 2026-11-27: P&L +$100.50"
    assert "Trades closed: 2 (1 winning)" in body
    assert "Agent and model costs: $0.42" in body
    channel.refresh_from_db()
    assert channel.summary_sent_on == session


def test_a_delivery_reaches_a_generic_webhook_and_a_refusal_is_recorded(owner):
    from accounts.channels import DeliveryFailed, channel_deliver
    from tests.fakes.chat import FakeChatServices

    with FakeChatServices() as chat:
        hook = channel_create(
            owner=owner, kind="webhook", fields={"webhook_url": f"{chat.url}/hooks/tradecrew"}
        )
        assert channel_deliver(channel_id=hook.pk, title="Filled", body="Bought 10 AAPL")
        (received,) = chat.messages("webhook")
        assert received["title"] == "Filled" and received["message"] == "Bought 10 AAPL"

        chat.fail_next(1, status=503, path=r"^/hooks/")
        with pytest.raises(DeliveryFailed):
            channel_deliver(channel_id=hook.pk, title="Filled", body="Bought 10 MSFT")
    hook.refresh_from_db()
    assert hook.failures == 1 and "503" in hook.last_error
    assert hook.last_sent_at is not None
