"""The percent filter for values already in percent (walk-forward returns): the pages' minus sign,
two places, — when unknown."""

from __future__ import annotations

from decimal import Decimal

from analytics.templatetags.tradecrew import percent_points


def test_it_writes_a_loss_with_the_minus_sign_the_money_filters_use():
    assert percent_points(-1.5) == "−1.50%"
    assert percent_points(Decimal("12.345")) == "12.35%"  # half up, like money
    assert percent_points(0) == "0.00%"
    assert percent_points(-0.001) == "0.00%"
    assert percent_points(None) == "—"
    assert percent_points(3.14159, 1) == "3.1%"
