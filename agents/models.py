"""Agent tables: the LLM replay cache, custom strategies (versions, reviews) and their run audit."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class LLMReplay(models.Model):
    """One model answer to one exact prompt, kept so the same prompt is answered again — the
    same answer, at no cost — on a re-run or, later, in a backtest.

    Scoped to the owner: a trader never receives (or learns of, through a free call) an answer
    another tenant paid for. Calls without an owner (the news-sentiment signal generator) share
    the empty scope.
    """

    # No database constraint: a cache row must never make a run fail (a context may name an
    # owner id that is not a user, as backtests and tests do); deleting a user still deletes
    # their rows through the ORM's cascade.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="+",
    )
    model = models.CharField(max_length=100)
    # sha256 of the request as sent: messages, temperature, completion limit, response format.
    prompt_hash = models.CharField(max_length=64)
    answer = models.TextField()
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # What the live call cost; every replay saves as much.
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=0)
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "LLM replay"
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "model", "prompt_hash"],
                nulls_distinct=False,
                name="one_llm_replay_per_owner_model_prompt",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.prompt_hash[:12]}"


class CustomStrategyStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    PENDING_REVIEW = "PENDING_REVIEW", "Awaiting review"
    ACTIVE = "ACTIVE", "Active"
    REJECTED = "REJECTED", "Rejected"
    ARCHIVED = "ARCHIVED", "Archived"
    SUSPENDED = "SUSPENDED", "Suspended"


class CustomStrategy(models.Model):
    """One version of a trader's own strategy: the English description, the code, its reviews.

    Versions of one strategy share `lineage`; pipelines name the lineage, and run its ACTIVE
    version. Editing a version that has been reviewed creates the next version (DRAFT), which
    needs its own approval while the ACTIVE one keeps running; approving it archives the old.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lineage = models.UUIDField(default=uuid.uuid4, db_index=True)
    version = models.PositiveIntegerField(default=1)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="custom_strategies"
    )
    name = models.CharField(max_length=100)
    description = models.TextField()
    code = models.TextField(blank=True)
    # sha256 of the code: what the admin approved, and what every run records.
    code_hash = models.CharField(max_length=64, blank=True)
    generated = models.BooleanField(default=False, help_text="Written by the model")
    status = models.CharField(
        max_length=20, choices=CustomStrategyStatus.choices, default=CustomStrategyStatus.DRAFT
    )
    # Declared by the code (found by the static review): {name: default}, indicators, timeframes.
    params = models.JSONField(default=dict, blank=True)
    indicators = models.JSONField(default=list, blank=True)
    timeframes = models.JSONField(default=list, blank=True)
    static_analysis_result = models.JSONField(null=True, blank=True)
    # {approved, issues, risk_level, explanation, model}
    llm_security_review = models.JSONField(null=True, blank=True)
    dry_run_result = models.JSONField(null=True, blank=True)
    rejection_reasons = models.JSONField(default=list, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    usage_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    anomaly_streak = models.PositiveIntegerField(default=0)
    # Trades and P&L are not copied here: they are read from the trade ledger through the run
    # audit (selectors.strategy_performance), so they can never disagree with it.
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "custom strategy"
        verbose_name_plural = "custom strategies"
        ordering = ["-created_at"]
        permissions = [("review_customstrategy", "Can approve or reject custom strategies")]
        constraints = [
            models.UniqueConstraint(
                fields=["lineage", "version"], name="one_custom_strategy_per_lineage_version"
            ),
            models.UniqueConstraint(
                fields=["lineage"],
                condition=models.Q(status="ACTIVE"),
                name="one_active_custom_strategy_per_lineage",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status"],
                condition=models.Q(status="PENDING_REVIEW"),
                name="custom_strategy_pending",
            ),
            models.Index(fields=["owner", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_active(self) -> bool:
        return self.status == CustomStrategyStatus.ACTIVE


class CustomStrategyRun(models.Model):
    """The audit of one sandbox call of a custom strategy: which version ran, how, with what."""

    id = models.BigAutoField(primary_key=True)
    strategy = models.ForeignKey(CustomStrategy, on_delete=models.CASCADE, related_name="runs")
    version = models.PositiveIntegerField()
    code_hash = models.CharField(max_length=64)
    code_snippet = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Pipelines live above agents: ids, not foreign keys (a dry run has none).
    pipeline_id = models.UUIDField(null=True, blank=True)
    execution_id = models.UUIDField(null=True, blank=True)
    symbol = models.CharField(max_length=20, blank=True)
    evaluations = models.PositiveIntegerField(default=1)
    duration_ms = models.FloatField(default=0)
    peak_memory_bytes = models.BigIntegerField(default=0)
    result = models.CharField(max_length=10, blank=True)
    success = models.BooleanField()
    error = models.TextField(blank=True)
    is_anomaly = models.BooleanField(default=False)
    anomaly_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["strategy", "-created_at"]),
            models.Index(
                fields=["is_anomaly"],
                condition=models.Q(is_anomaly=True),
                name="custom_run_anomaly",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} {self.result or 'failed'}"


class CustomStrategyReview(models.Model):
    """The audit of one administrator's decision on one exact version of a custom strategy."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    id = models.BigAutoField(primary_key=True)
    strategy = models.ForeignKey(CustomStrategy, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    # The hash the reviewer saw (equal to the strategy's: a changed code is never approved).
    code_hash = models.CharField(max_length=64)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.strategy} {self.decision}"


class PendingCustomStrategy(CustomStrategy):
    """The administrators' queue: custom strategies awaiting review (an admin view only)."""

    class Meta:
        proxy = True
        verbose_name = "custom strategy awaiting review"
        verbose_name_plural = "custom strategies awaiting review"
