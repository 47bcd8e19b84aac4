"""The replay cache: model answers stored by (owner, model, prompt hash) and served for free."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.utils import timezone

from agents.models import LLMReplay


@dataclass(frozen=True)
class Replay:
    answer: str
    prompt_tokens: int
    completion_tokens: int


def prompt_hash(request: dict[str, Any]) -> str:
    """sha256 of everything in a request that shapes the answer, except the model (a key of
    its own): the messages, temperature, completion limit and response format."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _owner_pk(owner_id: str | None) -> int | None:
    return int(owner_id) if owner_id and str(owner_id).isdigit() else None


def replay_lookup(*, owner_id: str | None, model: str, prompt_hash: str) -> Replay | None:
    row = (
        LLMReplay.objects.filter(owner_id=_owner_pk(owner_id), model=model, prompt_hash=prompt_hash)
        .values_list("pk", "answer", "prompt_tokens", "completion_tokens")
        .first()
    )
    if row is None:
        return None
    pk, answer, prompt_tokens, completion_tokens = row
    LLMReplay.objects.filter(pk=pk).update(hits=F("hits") + 1, last_used_at=timezone.now())
    return Replay(answer, prompt_tokens, completion_tokens)


def replay_store(
    *,
    owner_id: str | None,
    model: str,
    prompt_hash: str,
    answer: str,
    prompt_tokens: int,
    completion_tokens: int,
    cost: Decimal,
) -> None:
    # Two runs may ask the same question at once; the first answer stored wins.
    LLMReplay.objects.bulk_create(
        [
            LLMReplay(
                owner_id=_owner_pk(owner_id),
                model=model,
                prompt_hash=prompt_hash,
                answer=answer,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost=cost,
            )
        ],
        ignore_conflicts=True,
    )
