"""The notification channels API: add (the wrong field named, the secret never echoed), list,
change events, pause, queue a test, remove; another user's channel is 404."""

from __future__ import annotations

import pytest

from accounts.models import NotificationChannel
from accounts.tests.channel_support import SLACK, TOKEN, queued  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications/channels"


def _add_telegram(api, **extra):
    body = {"kind": "telegram", "bot_token": TOKEN, "chat_id": "-100123", **extra}
    return api.post(URL, body)


def test_it_adds_a_channel_without_echoing_its_secret(api, owner):
    response = _add_telegram(api, label="Phone", events=["stops", "fills"])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "telegram"
    assert body["label"] == "Phone"
    assert body["hint"] == "chat -100123"
    assert body["events"] == ["fills", "stops"]
    assert body["enabled"] is True
    assert TOKEN not in response.content.decode()
    channel = NotificationChannel.objects.get(owner=owner)
    assert channel.target == f"tgram://{TOKEN}/-100123/"


def test_it_names_the_wrong_field_and_writes_nothing(api, owner):
    response = api.post(URL, {"kind": "telegram", "bot_token": "nope", "chat_id": "-100123"})

    assert response.status_code == 422
    assert "bot_token" in response.content.decode()
    assert not NotificationChannel.objects.filter(owner=owner).exists()

    response = api.post(URL, {"kind": "slack", "webhook_url": SLACK, "events": ["lunch"]})
    assert response.status_code == 422
    assert "events" in response.content.decode()
    assert not NotificationChannel.objects.filter(owner=owner).exists()


def test_it_lists_changes_and_removes_the_callers_channels(api, owner):
    channel_id = _add_telegram(api).json()["id"]
    assert api.post(URL, {"kind": "slack", "webhook_url": SLACK}).status_code == 201

    listed = api.get(URL).json()
    assert [item["kind"] for item in listed] == ["telegram", "slack"]
    assert listed[0]["events"] == [
        "fills",
        "stops",
        "targets",
        "errors",
        "budget",
        "daily_summary",
    ]

    changed = api.patch(f"{URL}/{channel_id}", {"events": ["budget"], "enabled": False})
    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["budget"]
    assert changed.json()["enabled"] is False
    paused_only = api.patch(f"{URL}/{channel_id}", {"enabled": True}).json()
    assert paused_only["events"] == ["budget"]
    assert paused_only["enabled"] is True

    assert api.delete(f"{URL}/{channel_id}").status_code == 204
    assert api.get(f"{URL}/{channel_id}").status_code == 404
    assert [item["kind"] for item in api.get(URL).json()] == ["slack"]


def test_it_queues_a_test_message(api, queued, django_capture_on_commit_callbacks):  # noqa: F811
    channel_id = _add_telegram(api).json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}/{channel_id}/test")

    assert response.status_code == 202
    deliveries = queued()
    assert [(delivery[0], delivery[1]) for delivery in deliveries] == [
        (channel_id, "Tradecrew test message")
    ]


def test_it_hides_another_users_channel(api, outsider_api, owner):
    channel_id = _add_telegram(api).json()["id"]

    assert outsider_api.get(f"{URL}/{channel_id}").status_code == 404
    assert outsider_api.patch(f"{URL}/{channel_id}", {"enabled": False}).status_code == 404
    assert outsider_api.post(f"{URL}/{channel_id}/test").status_code == 404
    assert outsider_api.delete(f"{URL}/{channel_id}").status_code == 404
    assert outsider_api.get(URL).json() == []
    assert NotificationChannel.objects.get(pk=channel_id).enabled is True


def test_it_refuses_anonymous_callers(anon_api):
    assert anon_api.get(URL).status_code == 401
