"""Money formatted one way everywhere: −$19.96, +$12.30, "< $0.01", $0.0004."""

from decimal import Decimal

import pytest

from trading.money import cost, money, precise_cost, signed_money


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("-19.96"), "−$19.96"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("-0.004"), "$0.00"),
        (None, "—"),
        ("not a number", "—"),
    ],
)
def test_it_formats_money_with_a_real_minus_before_the_dollar(amount, text):
    assert money(amount) == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("-22.86"), "−$22.86"), (Decimal("12.3"), "+$12.30"), (Decimal("0"), "$0.00")],
)
def test_it_signs_a_pnl(amount, text):
    assert signed_money(amount) == text


def test_it_shows_a_cost_under_half_a_cent_as_less_than_a_cent_without_a_sign():
    assert cost(Decimal("0.0004")) == "< $0.01"
    assert cost(Decimal("0.012")) == "$0.01"
    assert cost(Decimal("0")) == "$0.00"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.0004"), "$0.0004"),
        (Decimal("0.00041234"), "$0.00041"),
        (Decimal("0.000012"), "$0.000012"),
        (Decimal("0.004"), "$0.004"),
        (Decimal("0"), "$0.00"),
        (Decimal("10"), "$10.00"),
    ],
)
def test_it_keeps_the_digits_of_a_cost_under_a_cent_where_a_decision_hangs_on_it(amount, text):
    assert precise_cost(amount) == text
