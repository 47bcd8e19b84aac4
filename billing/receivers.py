"""Billing's answers to lower apps' signals: the custom strategies' allowance and charges, and
the plan the settings page shows."""

from __future__ import annotations

from decimal import Decimal

from django.dispatch import receiver

from accounts.hooks import settings_context_requested
from agents.custom.signals import llm_allowance_requested, llm_spent
from billing.selectors import effective_plan, spend_summary
from billing.services import charge_record, step_charge


@receiver(llm_allowance_requested, dispatch_uid="billing.custom_strategy_allowance")
def custom_strategy_allowance(sender, *, owner, **kwargs) -> Decimal | None:
    """What the owner may still spend (daily and monthly budgets); None when unlimited."""
    limits = []
    spend = None
    for limit, key in ((owner.budget_limit_daily, "today"), (owner.budget_limit_monthly, "month")):
        if limit is None:
            continue
        spend = spend or spend_summary(owner=owner)
        limits.append(max(Decimal(0), Decimal(limit) - spend[key]))
    return min(limits) if limits else None


@receiver(llm_spent, dispatch_uid="billing.custom_strategy_spent")
def custom_strategy_charge(sender, *, owner, agent_id, calls, **kwargs) -> None:
    """Charge generation and review calls to the owner's ledger (no pipeline)."""
    charge = step_charge(
        owner_id=owner.pk,
        pipeline_id=None,
        execution_id=None,
        agent_id=agent_id,
        agent_type="custom_strategy",
        pricing_rate=Decimal(0),
        runtime_seconds=0,
        llm_calls=calls,
    )
    charge_record(charge, owner=owner, pipeline_id=None)


@receiver(settings_context_requested, dispatch_uid="billing.settings_plan")
def settings_plan(sender, *, user, **kwargs) -> dict:
    """The plan in force and why, for the settings page's badge."""
    return {"plan": effective_plan(user=user)}
