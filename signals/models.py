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
