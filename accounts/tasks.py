"""Celery tasks for accounts: delivering a message to one notification channel."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from accounts import channels


# Retries with exponential backoff (NOTIFY_RETRY_BACKOFF_SECONDS × 2^attempt, at most 10 min):
# Telegram's 429s and a webhook that is down for a while both pass. After NOTIFY_MAX_RETRIES the
# message is dropped and the channel shows the last error on the page. Runs on the default
# queue, never on the executions queue, so a slow channel never holds a trading run.
@shared_task(bind=True, name="accounts.channel_deliver", ignore_result=True, acks_late=True)
def channel_deliver_task(self, channel_id: int, title: str, body: str) -> bool:
    try:
        return channels.channel_deliver(channel_id=channel_id, title=title, body=body)
    except channels.DeliveryFailed as failure:
        if self.request.retries >= settings.NOTIFY_MAX_RETRIES:
            return False
        countdown = min(settings.NOTIFY_RETRY_BACKOFF_SECONDS * 2**self.request.retries, 600)
        raise self.retry(exc=failure, countdown=countdown, max_retries=None) from None
