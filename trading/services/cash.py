"""The simulated account's cash: opening, resetting and moving it."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db.models import F

from accounts.models import User
from trading.models import (
    Mode,
    Position,
    PositionStatus,
    SimulatedAccount,
)
from trading.services.amounts import cents

logger = logging.getLogger(__name__)


# --- The simulated account --------------------------------------------------------------------
def simulated_account_for(*, owner: User, initial_balance: Decimal) -> SimulatedAccount:
    account, _ = SimulatedAccount.objects.get_or_create(
        owner=owner, defaults={"initial_balance": initial_balance, "cash": initial_balance}
    )
    return account


def simulated_account_reset(*, owner: User, initial_balance: Decimal) -> SimulatedAccount:
    """Start the simulated account over (only when nothing is open in simulation)."""
    from config.core.errors import Conflict

    if Position.objects.filter(
        owner=owner, trading_mode=Mode.SIMULATION, status=PositionStatus.OPEN
    ).exists():
        raise Conflict("Close your simulated positions before resetting the simulated account.")
    account, _ = SimulatedAccount.objects.update_or_create(
        owner=owner, defaults={"initial_balance": initial_balance, "cash": initial_balance}
    )
    return account


def _cash_move(*, owner: User | int, mode: str, amount: Decimal) -> None:
    if mode == Mode.SIMULATION and amount:
        SimulatedAccount.objects.filter(owner=owner).update(cash=F("cash") + cents(amount))
