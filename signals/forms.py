"""Signals forms: a scanner's name and tickers, and a pipeline's signal subscriptions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import forms

from signals import catalog

_SEPARATORS = re.compile(r"[\s,;]+")


def tickers_from_text(text: str) -> list[str]:
    """ "AAPL, msft\nNVDA" → ["AAPL", "msft", "NVDA"] (the service validates and upper-cases)."""
    return [part for part in _SEPARATORS.split(text or "") if part]


class ScannerForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Tech stocks"}),
    )
    tickers = forms.CharField(
        label="Tickers",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "AAPL, MSFT, NVDA"}),
        help_text="Separated by commas, spaces or new lines; at most 100.",
    )

    def cleaned_tickers(self) -> list[str]:
        return tickers_from_text(self.cleaned_data["tickers"])


@dataclass
class SubscriptionRow:
    """One signal type on the subscription editor."""

    signal_type: catalog.SignalType
    subscribed: bool
    min_confidence: str
    available: bool


def subscription_rows(
    *, current: list[dict], allowed: frozenset[str], posted=None
) -> list[SubscriptionRow]:
    """Every known type, with what the pipeline has (or what was just posted)."""
    minimums = {entry.get("signal_type"): entry.get("min_confidence", 0) for entry in current}
    rows = []
    for key, signal_type in catalog.SIGNAL_TYPES.items():
        if posted is not None:
            subscribed = posted.get(f"subscribe_{key}") == "on"
            minimum = posted.get(f"min_{key}", "")
        else:
            subscribed = key in minimums
            minimum = minimums.get(key, 70)
        rows.append(
            SubscriptionRow(
                signal_type=signal_type,
                subscribed=subscribed,
                min_confidence=str(minimum),
                available=key in allowed,
            )
        )
    return rows


def subscriptions_from_post(post) -> list[dict]:
    """The ticked rows as [{signal_type, min_confidence}] (validated by the service)."""
    return [
        {"signal_type": key, "min_confidence": post.get(f"min_{key}", "") or 0}
        for key in catalog.SIGNAL_TYPES
        if post.get(f"subscribe_{key}") == "on"
    ]
