"""Trading page forms: the history filters."""

from __future__ import annotations

from typing import Any

from django import forms

from trading.models import Mode, TradeStatus


class HistoryFilterForm(forms.Form):
    """The filters of a history page (trades, runs): pipeline, mode, symbol, status and dates.
    A subclass names its statuses."""

    STATUS_CHOICES: list[tuple[str, str]] = []

    pipeline = forms.ChoiceField(label="Pipeline", required=False)
    trading_mode = forms.ChoiceField(
        label="Mode", required=False, choices=[("", "Any mode"), *Mode.choices]
    )
    symbol = forms.CharField(label="Symbol", required=False, max_length=12)
    status = forms.ChoiceField(label="Status", required=False)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, pipelines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [("", "All pipelines")] + [
            (str(pk), name) for pk, name in pipelines
        ]
        self.fields["status"].choices = [("", "Any status"), *self.STATUS_CHOICES]

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "pipeline_id": data["pipeline"] or None,
            "trading_mode": data["trading_mode"] or None,
            "symbol": (data["symbol"] or "").strip() or None,
            "status": data["status"] or None,
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }


class TradeFilterForm(HistoryFilterForm):
    STATUS_CHOICES = TradeStatus.choices
