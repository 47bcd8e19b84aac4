"""Forms of the custom-strategy pages: describe (and generate), edit."""

from django import forms


class StrategyForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text="Your rules in plain English, e.g. “Buy when the 9 EMA crosses above the 21 EMA "
        "on 5-minute bars, only if volume is above 1M; sell when it crosses back.”",
    )
    code = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 18, "spellcheck": "false", "wrap": "off", "class": "code-input"}
        ),
        required=False,
        max_length=20000,
        help_text="Generated from the description, or written by you; it is reviewed either way.",
    )


class StrategyEditForm(forms.Form):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    code = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 18, "spellcheck": "false", "wrap": "off", "class": "code-input"}
        ),
        max_length=20000,
    )
