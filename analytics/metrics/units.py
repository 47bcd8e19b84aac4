"""Money as exact integer units: Decimal amounts held as counts of 1/10,000 of a dollar
(the ledger's finest precision, four decimal places), summed in int64 by numpy and turned
back into Decimal, so a sum over 10,000 trades is one numpy pass and exact to the cent."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

MONEY_SCALE = 10_000  # the ledger's finest unit: four decimal places
MONEY_QUANT = Decimal("0.0001")
CENTS = Decimal("0.01")


def money_to_units(amount) -> int:
    return int((Decimal(amount or 0) * MONEY_SCALE).to_integral_value())


def units_to_money(units: int | np.integer) -> Decimal:
    return (Decimal(int(units)) / MONEY_SCALE).quantize(MONEY_QUANT)
