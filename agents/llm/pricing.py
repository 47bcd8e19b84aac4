"""What a model call costs: tokens × the per-model price table, and estimates before a call."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from agents.llm.config import Price

# The ledger keeps money to the 8th decimal; a call's cost is rounded once, here, so the StepRun,
# the ledger rows and the per-run totals add up to the same figure.
MONEY_PLACES = Decimal("0.00000001")
THOUSAND = Decimal(1000)
CHARS_PER_TOKEN = 4


def token_cost(price: Price, *, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """USD for one call at `price` (per 1,000 tokens), to the 8th decimal."""
    amount = (price.input * prompt_tokens + price.output * completion_tokens) / THOUSAND
    return amount.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """A tokenizer-free estimate: about four characters a token for English text and JSON.

    Good enough for a budget check before the call (the provider's usage is what is billed);
    a real tokenizer would tie us to one model family.
    """
    characters = sum(len(str(message.get("content") or "")) for message in messages)
    return -(-characters // CHARS_PER_TOKEN)
