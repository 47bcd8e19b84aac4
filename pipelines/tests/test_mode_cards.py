"""The trading-mode cards on a pipeline's page: "Switch to Live" shows what is missing before
the click (disabled, with the list of unmet prerequisites) and is enabled once they are met."""

import re

import pytest
from django.urls import reverse

from pipelines.tests.test_mode_change import closed_trades, connection

pytestmark = pytest.mark.django_db


def _switch_button(html: str, mode: str) -> str:
    return re.search(rf'<button[^>]*data-testid="switch-{mode}"[^>]*>', html)[0]


def test_switch_to_live_is_disabled_and_lists_what_is_missing(owner_client, day_trading):
    html = owner_client.get(reverse("pipelines:detail", args=[day_trading.pk])).content.decode()
    button = _switch_button(html, "LIVE")
    assert "disabled" in button
    assert 'aria-describedby="requirements-LIVE"' in button
    requirements = re.search(r'data-testid="requirements-LIVE">(.*?)</div>', html, flags=re.DOTALL)[
        1
    ]
    assert "Before you can switch to Live" in requirements
    assert "10 closed simulated trades (you have 0)" in requirements
    assert "Add your Alpaca live account in Settings first." in requirements


def test_switch_to_live_is_offered_once_the_prerequisites_are_met(owner_client, owner, day_trading):
    closed_trades(owner, "SIMULATION", 10)
    closed_trades(owner, "PAPER", 25)
    connection(owner, "live")
    html = owner_client.get(reverse("pipelines:detail", args=[day_trading.pk])).content.decode()
    button = _switch_button(html, "LIVE")
    assert "disabled" not in button
    assert 'type="submit"' in button
    assert 'data-testid="requirements-LIVE"' not in html
    # The click still asks to confirm: the form carries the dialog's wording.
    assert 'data-confirm-title="Switch “' in html


def test_a_negative_paper_record_is_shown_as_money(owner_client, owner, day_trading):
    closed_trades(owner, "SIMULATION", 10)
    closed_trades(owner, "PAPER", 25, pnl="-1.00")
    connection(owner, "live")
    html = owner_client.get(reverse("pipelines:detail", args=[day_trading.pk])).content.decode()
    assert "a positive paper P&amp;L (yours is −$25.00)" in html
    assert "disabled" in _switch_button(html, "LIVE")
