"""What an agent raises to end its step: a failure, an unmet trigger, or an exhausted budget."""

from __future__ import annotations

from datetime import datetime

from config.core import metrics


class AgentError(Exception):
    """The step failed; the message is shown to the trader as is."""


class InsufficientData(AgentError):
    """An agent's inputs are missing from the state (e.g. no market data before a bias agent)."""


class BudgetExceeded(AgentError):
    """A budget (user, pipeline or per-run) would be exceeded; the run stops, failing closed."""

    def __init__(self, *args):
        # Counted where it is raised, whoever raises it (the budget gate, the per-run meter).
        metrics.budget_refused()
        super().__init__(*args)


class TriggerNotMet(Exception):
    """The trigger's condition does not hold yet; the execution waits until `next_check_at`."""

    def __init__(self, reason: str, *, next_check_at: datetime, details: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.next_check_at = next_check_at
        self.details = details or {}
