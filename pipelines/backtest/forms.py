"""The backtest form (dataset, range, costs, fills, direction, LLM budget) and the parameter
grid the sweep and walk-forward forms name."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from django import forms
from django.utils import timezone

from pipelines.backtest import selectors
from pipelines.backtest.checks import BacktestSettings
from pipelines.backtest.engine import AT_CLOSE, NEXT_OPEN
from trading.models import Dataset


class BacktestForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label=None)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    initial_cash = forms.DecimalField(initial=Decimal("10000"), min_value=1, decimal_places=2)
    commission_pct = forms.DecimalField(
        initial=Decimal("0.1"), min_value=0, max_value=9, decimal_places=4, label="Commission (%)"
    )
    commission_per_share = forms.DecimalField(
        initial=Decimal("0"),
        min_value=0,
        max_value=9,
        decimal_places=4,
        label="Commission ($/share)",
    )
    slippage_pct = forms.DecimalField(
        initial=Decimal("0"), min_value=0, max_value=9, decimal_places=4, label="Slippage (%)"
    )
    fill_at = forms.ChoiceField(
        choices=[(NEXT_OPEN, "Next bar's open"), (AT_CLOSE, "The signal bar's close")],
        label="Market orders fill at",
    )
    side = forms.ChoiceField(
        choices=[
            ("long", "Long"),
            ("short", "Short"),
            ("both", "Long and short: reverse when the exit conditions hold"),
        ],
        label="Direction",
    )

    llm_budget = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=1000,
        decimal_places=4,
        label="LLM budget ($)",
        help_text="The most new model calls may cost; answers already in the replay cache are "
        "free. Empty: the replay cache only.",
    )

    def __init__(self, *args, user, uses_llm: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = selectors.datasets_for_user(user=user)
        if not uses_llm:  # a rules-only pipeline spends nothing: no budget to ask for
            del self.fields["llm_budget"]

    def settings(self, zone) -> BacktestSettings:
        data = self.cleaned_data

        def moment(day):
            return None if day is None else timezone.make_aware(datetime.combine(day, time()), zone)

        return BacktestSettings(
            start=moment(data["start"]),
            end=moment(data["end"]),
            initial_cash=data["initial_cash"],
            commission_pct=data["commission_pct"],
            commission_per_share=data["commission_per_share"],
            slippage_pct=data["slippage_pct"],
            fill_at=data["fill_at"],
            side=data["side"],
            llm_budget=data.get("llm_budget"),
        )


def _values(text: str) -> list:
    """'10, 20, 30' → [10, 20, 30] (numbers where they parse, else the text)."""
    values = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            number = float(part)
            values.append(int(number) if number.is_integer() else number)
        except ValueError:
            values.append(part)
    return values


def form_grid(data) -> dict[str, list]:
    """The grid the sweep/walk-forward form names: up to two `node_id.field` = values rows."""
    return {
        data.get(f"param_{n}", "").strip(): _values(data.get(f"values_{n}", ""))
        for n in (1, 2)
        if data.get(f"param_{n}", "").strip()
    }
