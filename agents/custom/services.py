"""Custom strategy writes: create, generate, edit (versions), submit through review, approve or
reject, record each sandbox run and suspend a strategy that keeps misbehaving."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from accounts.services import notify
from agents.custom import llm_review
from agents.custom.inputs import dry_run_inputs
from agents.custom.sandbox import SandboxResult, sandbox_evaluate_many
from agents.custom.signals import llm_allowance_requested, llm_spent
from agents.custom.static_review import static_review
from agents.errors import AgentError, BudgetExceeded
from agents.llm.client import LLMClient
from agents.llm.config import llm_settings
from agents.metering import CostMeter
from agents.models import (
    CustomStrategy,
    CustomStrategyReview,
    CustomStrategyRun,
    CustomStrategyStatus,
)

REVIEW_PERMISSION = "agents.review_customstrategy"
OPEN_STATUSES = (CustomStrategyStatus.DRAFT, CustomStrategyStatus.PENDING_REVIEW)


class CustomStrategyError(Exception):
    """A request the strategy's state does not allow; `field` names what to fix."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _link(strategy: CustomStrategy) -> str:
    return f"/strategies/custom/{strategy.pk}/"


# --- the model client, charged to the owner -----------------------------------------------------


def _llm_client(owner) -> tuple[LLMClient, CostMeter] | None:
    config = llm_settings()
    if not config.configured:
        return None
    allowances = [
        value
        for _, value in llm_allowance_requested.send(sender=CustomStrategy, owner=owner)
        if value is not None
    ]
    meter = CostMeter(max_cost_per_run=min(allowances) if allowances else None)
    client = LLMClient(
        config=config, meter=meter, agent_id="custom_strategy", owner_id=str(owner.pk)
    )
    return client, meter


def _charge(owner, meter: CostMeter, agent_id: str) -> None:
    if meter.calls:
        llm_spent.send(sender=CustomStrategy, owner=owner, agent_id=agent_id, calls=meter.calls)


def llm_available() -> bool:
    return llm_settings().configured


# --- create, generate, edit ---------------------------------------------------------------------


def _clean_text(value: str, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise CustomStrategyError(f"{field} is required", field=field)
    if len(value) > limit:
        raise CustomStrategyError(f"{field} is at most {limit} characters", field=field)
    return value


def strategy_generate_code(*, owner, description: str) -> tuple[str, str]:
    """(code, explanation) the model writes for `description`, charged to the owner."""
    description = _clean_text(description, "description", 4_000)
    prepared = _llm_client(owner)
    if prepared is None:
        raise CustomStrategyError(
            "No language model is configured: write or paste the code yourself.", field="code"
        )
    client, meter = prepared
    try:
        answer = llm_review.strategy_generate_code(client=client, description=description)
    except BudgetExceeded as error:
        raise CustomStrategyError(
            "Writing the code would exceed your budget (daily or monthly limit); raise it in "
            "Settings or write the code yourself.",
            field="description",
        ) from error
    except AgentError as error:
        raise CustomStrategyError(str(error), field="description") from error
    finally:
        _charge(owner, meter, "custom_strategy.generate")
    return answer.code, answer.explanation


@transaction.atomic
def strategy_create(
    *, owner, name: str, description: str, code: str = "", generate: bool = False
) -> CustomStrategy:
    """A new strategy (version 1, DRAFT) with the trader's code or, with `generate`, the model's."""
    name = _clean_text(name, "name", 100)
    description = _clean_text(description, "description", 4_000)
    if generate:
        code, _ = strategy_generate_code(owner=owner, description=description)
    code = (code or "").strip("\n")
    if not code.strip():
        raise CustomStrategyError("code is required (or ask the model to write it)", field="code")
    return CustomStrategy.objects.create(
        owner=owner,
        name=name,
        description=description,
        code=code,
        code_hash=code_hash(code),
        generated=generate,
    )


@transaction.atomic
def strategy_update(
    *,
    strategy: CustomStrategy,
    name: str | None = None,
    description: str | None = None,
    code: str | None = None,
) -> CustomStrategy:
    """Edit a strategy. A DRAFT changes in place; any reviewed version (ACTIVE included) gets a
    new DRAFT version instead, and an ACTIVE one keeps running until that is approved."""
    strategy = CustomStrategy.objects.select_for_update().get(pk=strategy.pk)
    new_name = _clean_text(name, "name", 100) if name is not None else strategy.name
    new_description = (
        _clean_text(description, "description", 4_000)
        if description is not None
        else strategy.description
    )
    new_code = code.strip("\n") if code is not None else strategy.code
    if not new_code.strip():
        raise CustomStrategyError("code is required", field="code")
    if strategy.status == CustomStrategyStatus.DRAFT:
        strategy.name, strategy.description = new_name, new_description
        strategy.code, strategy.code_hash = new_code, code_hash(new_code)
        strategy.save(update_fields=["name", "description", "code", "code_hash", "updated_at"])
        return strategy
    if strategy.status == CustomStrategyStatus.PENDING_REVIEW:
        raise CustomStrategyError(
            "This version is awaiting review; it cannot change under the reviewer's eyes.",
            field="code",
        )
    family = CustomStrategy.objects.select_for_update().filter(lineage=strategy.lineage)
    if family.filter(status__in=OPEN_STATUSES).exists():
        raise CustomStrategyError(
            "A newer version is already open (draft or awaiting review); edit that one.",
            field="code",
        )
    latest = family.aggregate(latest=Max("version"))["latest"] or strategy.version
    return CustomStrategy.objects.create(
        owner=strategy.owner,
        lineage=strategy.lineage,
        version=latest + 1,
        name=new_name,
        description=new_description,
        code=new_code,
        code_hash=code_hash(new_code),
    )


# --- submit: the three review layers ------------------------------------------------------------


@dataclass
class DryRun:
    passed: bool
    issues: list[str]
    outputs: list[dict[str, Any]]
    duration_ms: float
    peak_memory_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "issues": self.issues,
            "outputs": self.outputs,
            "duration_ms": self.duration_ms,
            "peak_memory_bytes": self.peak_memory_bytes,
        }


def strategy_dry_run(
    *, code: str, timeframes: list[str], indicators: list[str], params: dict[str, Any]
) -> DryRun:
    """Layer 3: the code on synthetic bars, in the sandbox, in one call; every answer valid."""
    labelled = dry_run_inputs(timeframes=timeframes, indicators=indicators, params=params)
    result = sandbox_evaluate_many(code, [inputs for _, inputs in labelled])
    if not result.ok:
        return DryRun(
            False, [f"dry run: {result.error}"], [], result.duration_ms, result.peak_memory_bytes
        )
    outputs = [
        {"scenario": label, **output.model_dump()}
        for (label, _), output in zip(labelled, result.outputs, strict=True)
    ]
    return DryRun(True, [], outputs, result.duration_ms, result.peak_memory_bytes)


def _reviewers():
    User = get_user_model()
    return (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__codename="review_customstrategy")
            | Q(groups__permissions__codename="review_customstrategy")
        )
        .distinct()
    )


def strategy_submit(*, strategy: CustomStrategy) -> CustomStrategy:
    """Run the review layers in order — static, the model's security review, the dry run — and
    record each. Failing one rejects the version with the reasons (and spends nothing on the
    layers after it); passing all puts it in the administrators' queue."""
    claimed = CustomStrategy.objects.filter(
        pk=strategy.pk, status=CustomStrategyStatus.DRAFT
    ).update(status=CustomStrategyStatus.PENDING_REVIEW, submitted_at=timezone.now())
    if claimed != 1:
        raise CustomStrategyError("Only a draft can be submitted for review.", field="status")
    strategy.refresh_from_db()
    try:
        return _review(strategy)
    except BaseException:
        # Never left half-reviewed: back to a draft the owner can submit again.
        CustomStrategy.objects.filter(pk=strategy.pk).update(
            status=CustomStrategyStatus.DRAFT, submitted_at=None
        )
        raise


def _review(strategy: CustomStrategy) -> CustomStrategy:
    reasons: list[str] = []
    static = static_review(strategy.code)
    strategy.static_analysis_result = static.as_json()
    strategy.params, strategy.indicators = static.params, static.indicators
    strategy.timeframes = static.timeframes
    reasons.extend(f"static: {issue}" for issue in static.issues)
    if not reasons:
        prepared = _llm_client(strategy.owner)
        if prepared is None:
            strategy.llm_security_review = {
                "skipped": True,
                "explanation": "No language model is configured; the administrator reviews alone.",
            }
        else:
            client, meter = prepared
            try:
                verdict = llm_review.strategy_security_review(
                    client=client, description=strategy.description, code=strategy.code
                )
            except AgentError as error:
                strategy.llm_security_review = {"approved": False, "error": str(error)}
                reasons.append(f"security review could not be completed: {error}")
            else:
                strategy.llm_security_review = {
                    **verdict.model_dump(),
                    "model": client.config.model_for("strategy"),
                }
                if not verdict.approved or verdict.risk_level == "high":
                    issues = "; ".join(verdict.issues) or verdict.explanation or "not approved"
                    reasons.append(f"security review ({verdict.risk_level} risk): {issues}")
            finally:
                _charge(strategy.owner, meter, "custom_strategy.review")
    if not reasons:
        dry_run = strategy_dry_run(
            code=strategy.code,
            timeframes=strategy.timeframes,
            indicators=strategy.indicators,
            params=strategy.params,
        )
        strategy.dry_run_result = dry_run.as_json()
        reasons.extend(dry_run.issues)
    strategy.rejection_reasons = reasons
    strategy.status = (
        CustomStrategyStatus.REJECTED if reasons else CustomStrategyStatus.PENDING_REVIEW
    )
    with transaction.atomic():
        strategy.save()
        if reasons:
            notify(
                owner=strategy.owner,
                title=f"Custom strategy “{strategy.name}” v{strategy.version} was rejected",
                message="The automated review found: " + "; ".join(reasons),
                level="error",
                link=_link(strategy),
                kind="custom_strategy:rejected",
            )
        else:
            for reviewer in _reviewers():
                notify(
                    owner=reviewer,
                    title=f"Custom strategy “{strategy.name}” v{strategy.version} awaits review",
                    message=f"Submitted by {strategy.owner.email}; it passed the automated review.",
                    link=f"/admin/agents/customstrategy/{strategy.pk}/change/",
                    kind="custom_strategy:pending",
                )
    return strategy


# --- the administrator's decision --------------------------------------------------------------


def _claim_pending(strategy_id, *, seen_hash: str) -> CustomStrategy:
    strategy = (
        CustomStrategy.objects.select_for_update().select_related("owner").get(pk=strategy_id)
    )
    if strategy.status != CustomStrategyStatus.PENDING_REVIEW or strategy.dry_run_result is None:
        raise CustomStrategyError(
            f"This version is {strategy.get_status_display().lower()}, not awaiting review.",
            field="status",
        )
    if not seen_hash or seen_hash != strategy.code_hash:
        raise CustomStrategyError(
            "The code is not the code you reviewed (its hash differs); review it again.",
            field="code_hash",
        )
    return strategy


@transaction.atomic
def strategy_approve(*, strategy_id, reviewer, code_hash: str, comment: str = "") -> CustomStrategy:
    """Approve the exact code the reviewer saw: it becomes the lineage's ACTIVE version (the
    previous ACTIVE one is archived) and the owner is told."""
    strategy = _claim_pending(strategy_id, seen_hash=code_hash)
    CustomStrategy.objects.filter(
        lineage=strategy.lineage, status=CustomStrategyStatus.ACTIVE
    ).update(status=CustomStrategyStatus.ARCHIVED)
    strategy.status = CustomStrategyStatus.ACTIVE
    strategy.reviewed_by, strategy.reviewed_at = reviewer, timezone.now()
    strategy.review_comment = (comment or "").strip()
    strategy.anomaly_streak = 0
    strategy.save()
    CustomStrategyReview.objects.create(
        strategy=strategy,
        reviewer=reviewer,
        decision=CustomStrategyReview.Decision.APPROVED,
        code_hash=strategy.code_hash,
        comment=strategy.review_comment,
    )
    notify(
        owner=strategy.owner,
        title=f"Custom strategy “{strategy.name}” v{strategy.version} was approved",
        message=strategy.review_comment or "It is active: add it to a pipeline from the builder.",
        level="success",
        link=_link(strategy),
        kind="custom_strategy:approved",
    )
    return strategy


@transaction.atomic
def strategy_reject(*, strategy_id, reviewer, code_hash: str, comment: str) -> CustomStrategy:
    """Reject with a comment (required): the owner is told why."""
    comment = (comment or "").strip()
    if not comment:
        raise CustomStrategyError(
            "A comment is required to reject: tell the owner why.", field="comment"
        )
    strategy = _claim_pending(strategy_id, seen_hash=code_hash)
    strategy.status = CustomStrategyStatus.REJECTED
    strategy.reviewed_by, strategy.reviewed_at = reviewer, timezone.now()
    strategy.review_comment = comment
    strategy.rejection_reasons = [*strategy.rejection_reasons, f"administrator: {comment}"]
    strategy.save()
    CustomStrategyReview.objects.create(
        strategy=strategy,
        reviewer=reviewer,
        decision=CustomStrategyReview.Decision.REJECTED,
        code_hash=strategy.code_hash,
        comment=comment,
    )
    notify(
        owner=strategy.owner,
        title=f"Custom strategy “{strategy.name}” v{strategy.version} was rejected",
        message=f"The administrator's review: {comment}",
        level="error",
        link=_link(strategy),
        kind="custom_strategy:rejected",
    )
    return strategy


@transaction.atomic
def strategy_archive(*, strategy: CustomStrategy) -> CustomStrategy:
    """Retire a version: it no longer runs in any pipeline."""
    CustomStrategy.objects.filter(pk=strategy.pk).exclude(
        status=CustomStrategyStatus.ARCHIVED
    ).update(status=CustomStrategyStatus.ARCHIVED)
    strategy.refresh_from_db()
    return strategy


# --- runs ---------------------------------------------------------------------------------------


def strategy_run_record(
    *,
    strategy: CustomStrategy,
    result: SandboxResult,
    pipeline_id=None,
    execution_id=None,
    symbol: str = "",
    evaluations: int = 1,
    limit: int = 3,
) -> CustomStrategyRun:
    """Audit one sandbox call and count it (atomic counters: many workers run one strategy).
    `limit` anomalous runs in a row suspend the strategy and tell its owner and the admins."""
    signal = result.outputs[-1].signal if result.ok and result.outputs else ""
    # A normal run is two statements in autocommit (each step of a pipeline pays for its round
    # trips: BEGIN/COMMIT would add two to every custom step); an anomaly, which may suspend
    # the strategy, is one transaction.
    atomic = transaction.atomic() if result.is_anomaly else contextlib.nullcontext()
    with atomic:
        run = CustomStrategyRun.objects.create(
            strategy=strategy,
            version=strategy.version,
            code_hash=strategy.code_hash,
            code_snippet=strategy.code[:500],
            owner_id=strategy.owner_id,
            pipeline_id=pipeline_id,
            execution_id=execution_id,
            symbol=symbol,
            evaluations=evaluations,
            duration_ms=result.duration_ms,
            peak_memory_bytes=result.peak_memory_bytes,
            result=signal,
            success=result.ok,
            error=result.error,
            is_anomaly=result.is_anomaly,
            anomaly_reason=f"{result.kind}: {result.error}" if result.is_anomaly else "",
        )
        counters: dict[str, Any] = {
            "usage_count": F("usage_count") + 1,
            "last_used_at": timezone.now(),
        }
        if result.ok:
            counters.update(success_count=F("success_count") + 1, anomaly_streak=0)
        else:
            counters["error_count"] = F("error_count") + 1
            if result.is_anomaly:
                counters["anomaly_streak"] = F("anomaly_streak") + 1
        CustomStrategy.objects.filter(pk=strategy.pk).update(**counters)
        if result.is_anomaly:
            suspended = CustomStrategy.objects.filter(
                pk=strategy.pk, status=CustomStrategyStatus.ACTIVE, anomaly_streak__gte=limit
            ).update(status=CustomStrategyStatus.SUSPENDED)
            if suspended:
                message = (
                    f"{limit} runs in a row failed abnormally (last: {result.kind}: "
                    f"{result.error}). It no longer runs until a new version is approved."
                )
                title = f"Custom strategy “{strategy.name}” v{strategy.version} was suspended"
                notify(
                    owner=strategy.owner,
                    title=title,
                    message=message,
                    level="error",
                    link=_link(strategy),
                    kind="custom_strategy:suspended",
                )
                for reviewer in _reviewers():
                    notify(
                        owner=reviewer,
                        title=title,
                        message=f"{strategy.owner.email}: {message}",
                        level="warning",
                        link=f"/admin/agents/customstrategy/{strategy.pk}/change/",
                        kind="custom_strategy:suspended",
                    )
    return run
