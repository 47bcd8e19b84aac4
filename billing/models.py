"""The cost ledger (one row per charge) and its daily roll-up used by budgets."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CostType(models.TextChoices):
    AGENT_RENTAL = "agent_rental", "Agent runtime"
    LLM_TOKENS = "llm_tokens", "LLM tokens"
    API_CALL = "api_call", "API call"


class CostEntry(models.Model):
    """One charge. Executions and pipelines are referenced by id, not foreign key: the ledger
    is an audit record and outlives whatever it charged for."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cost_entries"
    )
    pipeline_id = models.UUIDField(null=True, blank=True)
    execution_id = models.UUIDField(null=True, blank=True)
    agent_id = models.CharField(max_length=100, blank=True)
    agent_type = models.CharField(max_length=100)
    cost_type = models.CharField(max_length=20, choices=CostType.choices)
    # Seconds of runtime for agent_rental, tokens for llm_tokens, calls for api_call.
    quantity = models.DecimalField(max_digits=16, decimal_places=6)
    unit_cost = models.DecimalField(max_digits=16, decimal_places=10)
    total_cost = models.DecimalField(max_digits=14, decimal_places=8)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["execution_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.agent_type} {self.cost_type} ${self.total_cost}"


class DailyCost(models.Model):
    """Spend per owner × pipeline × day (the owner's local day), kept in step with CostEntry so
    a budget check reads a handful of rows instead of summing the whole ledger."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="daily_costs"
    )
    pipeline_id = models.UUIDField(null=True, blank=True)
    day = models.DateField()
    total_cost = models.DecimalField(max_digits=14, decimal_places=8, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "pipeline_id", "day"],
                name="daily_cost_per_owner_pipeline_day",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["owner", "day"])]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.day} ${self.total_cost}"


class ReservationStatus(models.TextChoices):
    HELD = "held", "Held"
    SETTLED = "settled", "Settled"
    RELEASED = "released", "Released"


class BudgetReservation(models.Model):
    """What one run has set aside of its owner's budgets (its estimated cost), taken under the
    owner's budget lock so concurrent runs cannot all spend the same remaining dollars. A held
    reservation counts against the budgets, less what its run has already spent, while the run
    is pending or running; it is settled when the run ends and released while it waits."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget_reservations"
    )
    pipeline_id = models.UUIDField(null=True, blank=True)
    execution_id = models.UUIDField(unique=True)
    day = models.DateField()
    # The most the run may spend in all (what it has spent plus its remaining estimate).
    amount = models.DecimalField(max_digits=14, decimal_places=8)
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.HELD
    )
    # The estimate the run was admitted with (§9.4: kept to measure the estimator's accuracy
    # against what the run then cost), in all and per agent type.
    estimated_cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    estimated_by_agent = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["owner", "day"],
                name="held_reservations_by_day",
                condition=models.Q(status="held"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.execution_id} {self.status} ${self.amount}"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Payment failed"
    CANCELED = "canceled", "Cancelled"


class Subscription(models.Model):
    """A user's Stripe customer and subscription, as the last applied webhook left them. The
    tier itself lives on the user (`subscription_tier`); this keeps what decides it."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    tier = models.CharField(max_length=20, default="FREE")
    status = models.CharField(
        max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    # §19.4's subscription_expires_at: the end of the period paid for.
    expires_at = models.DateTimeField(null=True, blank=True)
    # After a failed payment the plan holds until then (BILLING_GRACE_DAYS).
    grace_until = models.DateTimeField(null=True, blank=True)
    # The Stripe `created` time of the last event applied: an older one arriving late is ignored.
    last_event_created = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.owner_id} {self.tier} {self.status}"


class StripeEvent(models.Model):
    """Every webhook event applied, by Stripe's id: a replay is recognised and changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100)
    created = models.DateTimeField()
    applied = models.BooleanField(default=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event_id} {self.event_type}"


class UsageReport(models.Model):
    """Usage fees of one owner for one day, reported to Stripe's billing meter once (the
    identifier doubles as Stripe's idempotency key)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_reports"
    )
    day = models.DateField()
    cents = models.PositiveIntegerField()
    identifier = models.CharField(max_length=100, unique=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "day"], name="one_usage_report_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.day} {self.cents}¢"
