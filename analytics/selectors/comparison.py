"""Pipelines side by side: the user's pipelines to choose from, the ids a page or the API was
given checked (malformed → ValidationError, another user's → DoesNotExist), and one
performance per pipeline over the same mode and period."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from accounts.models import User
from analytics.selectors.ids import parse_ids
from analytics.selectors.results import Performance, performance
from analytics.selectors.scope import Scope
from pipelines.models import Pipeline
from pipelines.selectors import pipeline_capitals_for_user

MAX_COMPARED = 5


def compare(scope: Scope, pipeline_ids) -> list[Performance]:
    """Side by side: one performance per pipeline (2–5 of the user's own), same mode and period.
    A pipeline id that is not the user's is DoesNotExist (→ 404)."""
    ids = list(dict.fromkeys(str(p) for p in pipeline_ids))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise ValidationError({"ids": f"Compare 2 to {MAX_COMPARED} pipelines."})
    _check_owned(scope.user, ids)
    return [performance(scope.with_pipelines([pid])) for pid in ids]


def validate_pipeline_ids(user: User, raw_ids) -> list[str]:
    """Parse and check pipeline ids: a malformed id is a ValidationError, a foreign one
    DoesNotExist (the API answers 422 and 404)."""
    ids = parse_ids(raw_ids, field="ids", noun="pipeline")
    _check_owned(user, ids)
    return ids


def _check_owned(user: User, ids: list[str]) -> None:
    """DoesNotExist unless every id is one of the user's pipelines."""
    owned = {str(p["id"]) for p in pipeline_capitals_for_user(user=user, pipeline_ids=ids)}
    if owned != set(ids):
        raise Pipeline.DoesNotExist
