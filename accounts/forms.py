"""Account forms: log-in by e-mail, sign-up, profile and budgets, API token names."""

from __future__ import annotations

import zoneinfo

from django import forms

from accounts.models import ChannelKind, TraderEvent, User


class LoginForm(forms.Form):
    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SignupForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=255, required=False)
    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common or all-numeric password.",
    )
    password_again = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return cleaned


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name]


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=_timezone_choices, label="Time zone")

    class Meta:
        model = User
        fields = ["full_name", "timezone", "budget_limit_daily", "budget_limit_monthly"]


class APITokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "e.g. TradingView webhook"}),
    )


class BrokerConnectionForm(forms.Form):
    account_type = forms.ChoiceField(
        label="Account",
        choices=[("paper", "Paper (no real money)"), ("live", "Live (real money)")],
        initial="paper",
        widget=forms.RadioSelect,
    )
    label = forms.CharField(
        label="Label",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. My Alpaca paper account"}),
    )
    api_key = forms.CharField(
        label="API key ID",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    api_secret = forms.CharField(
        label="API secret key",
        max_length=200,
        help_text="Stored encrypted and never shown again — only its last four characters.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class NotificationChannelForm(forms.Form):
    """A Telegram chat, a Discord or Slack webhook, or any webhook; which fields matter depends
    on the kind (accounts.channels.apprise_target checks them)."""

    kind = forms.ChoiceField(label="Service", choices=ChannelKind.choices, initial="telegram")
    label = forms.CharField(
        label="Label",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. My trading chat"}),
    )
    bot_token = forms.CharField(
        label="Telegram bot token",
        max_length=200,
        required=False,
        help_text="From @BotFather. Stored encrypted, never shown again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    chat_id = forms.CharField(
        label="Telegram chat id",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "-1001234567890 or @channel"}),
    )
    webhook_url = forms.CharField(
        label="Webhook URL (Discord, Slack or any)",
        max_length=500,
        required=False,
        help_text="Stored encrypted, never shown again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    events = forms.MultipleChoiceField(
        label="Send me",
        choices=TraderEvent.choices,
        initial=list(TraderEvent.values),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class ChannelEventsForm(forms.Form):
    events = forms.MultipleChoiceField(
        choices=TraderEvent.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    enabled = forms.BooleanField(required=False)
