"""Agent tables: the LLM replay cache (model answers kept by prompt, replayed for free)."""

from __future__ import annotations

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
