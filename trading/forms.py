"""Trading page forms: the history filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from trading.models import Mode, TradeStatus


class PlainSelect(forms.Select):
    """A select whose options are written in Python: Django renders each option through a
    template, which for a trader with 100 pipelines cost more than the rest of the trades page.
    The same markup as Django's own select."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(item) for item in self.format_value(value)}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option, " selected" if str(option) in chosen else "", label)
                for option, label in self.choices
            ),
        )
        final_attrs = self.build_attrs(self.attrs, attrs)
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(final_attrs), options)


class HistoryFilterForm(forms.Form):
    """The filters of a history page (trades, runs): pipeline, mode, symbol, status and dates.
    A subclass names its statuses."""

    STATUS_CHOICES: list[tuple[str, str]] = []

    pipeline = forms.ChoiceField(label="Pipeline", required=False, widget=PlainSelect)
    trading_mode = forms.ChoiceField(
        label="Mode", required=False, choices=[("", "Any mode"), *Mode.choices], widget=PlainSelect
    )
    symbol = forms.CharField(label="Symbol", required=False, max_length=12)
    status = forms.ChoiceField(label="Status", required=False, widget=PlainSelect)
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
