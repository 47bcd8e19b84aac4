"""What the notification-channel tests share: fake secrets and the queued deliveries."""

from __future__ import annotations

import base64
import json

import pytest

from config.celery import app as celery_app

TOKEN = "123456789:AAHfakeTelegramBotToken_0123456789"
SLACK = "https://hooks.slack.com/services/T0FAKE01/B0FAKE02/fakeSlackToken123456"


@pytest.fixture
def queued():
    """The delivery tasks sent to the broker's default queue, decoded: (channel id, title, body)."""
    celery_app.control.purge()

    def read():
        with celery_app.connection_for_write() as conn:
            client = conn.default_channel.client
            messages = [json.loads(raw) for raw in client.lrange("default", 0, -1)]
        deliveries = []
        for message in messages:
            if message["headers"]["task"] != "accounts.channel_deliver":
                continue
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            deliveries.append(tuple(args))
        return deliveries

    yield read
    celery_app.control.purge()
