"""Scanners (reusable ticker lists) and the log of signals that arrived and what they started."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ScannerType(models.TextChoices):
    MANUAL = "manual", "Manual ticker list"
    FILTER = "filter", "Filter-based"
    API = "api", "External API"


class Scanner(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scanners"
    )
    name = models.CharField(max_length=255)
    scanner_type = models.CharField(
        max_length=10, choices=ScannerType.choices, default=ScannerType.MANUAL
    )
    tickers = models.JSONField(default=list, blank=True)
    filter_config = models.JSONField(default=dict, blank=True)
    api_config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SignalEvent(models.Model):
    """One signal the dispatcher processed: what arrived and how many pipelines it matched and
    started. Pipelines and executions are referenced by id only (no foreign keys), so the log
    outlives them and costs no locks on the hot tables."""

    # "<owner id or ->:<signal_id>": the same signal_id from two users is two signals, and a
    # redelivered bus entry finds the row its first delivery committed.
    dedup_key = models.CharField(max_length=255, unique=True)
    signal_id = models.CharField(max_length=200)
    signal_type = models.CharField(max_length=50)
    source = models.CharField(max_length=100)
    # The sender of a webhook signal (it reaches only their pipelines); empty for market signals.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="signal_events",
    )
    tickers = models.JSONField(default=list)  # [{ticker, signal, confidence}] as in §17.2
    signal_at = models.DateTimeField()  # the signal's own timestamp
    message_id = models.CharField(max_length=40, blank=True)  # the bus entry
    matched_count = models.PositiveIntegerField(default=0)
    started_count = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["-received_at"], name="signal_event_recent"),
            models.Index(fields=["owner", "-received_at"], name="signal_event_owner_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.signal_type} {self.signal_id}"


class MatchOutcome(models.TextChoices):
    STARTED = "started", "Started"
    SKIPPED = "skipped", "Skipped: the pipeline may not start a run now"
    INACTIVE = "inactive", "Skipped: the pipeline is no longer active"


class SignalMatch(models.Model):
    """A pipeline a signal matched, and the execution it started (if it could start one)."""

    event = models.ForeignKey(SignalEvent, on_delete=models.CASCADE, related_name="matches")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    pipeline_id = models.UUIDField()
    execution_id = models.UUIDField(null=True, blank=True)
    symbols = models.JSONField(default=list)
    outcome = models.CharField(max_length=10, choices=MatchOutcome.choices)
    # Why a skipped pipeline did not start (a run in progress, its window, a limit, a position).
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["owner", "event"], name="signal_match_owner_event"),
            models.Index(fields=["pipeline_id"], name="signal_match_pipeline"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.pipeline_id} ({self.outcome})"
