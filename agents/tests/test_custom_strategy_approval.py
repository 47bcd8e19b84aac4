"""Approval: the staff API and the Django admin queue; owner scoping of the trader's API."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Notification
from agents.custom.services import strategy_create, strategy_submit
from agents.models import CustomStrategy, CustomStrategyReview, CustomStrategyStatus
from agents.tests.custom_support import EMA_CROSS
from conftest import APIClient, _token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(no_llm, owner):
    strategy = strategy_create(owner=owner, name="EMA", description="EMA cross", code=EMA_CROSS)
    return strategy_submit(strategy=strategy)


@pytest.fixture
def staff_api(reviewer):
    return APIClient(token=_token_for(reviewer))


def test_it_lists_the_queue_for_reviewers_only(pending, staff_api, plain_staff, api):
    answer = staff_api.get("/api/v1/admin/custom-agents/pending")
    assert answer.status_code == 200
    assert [row["id"] for row in answer.json()] == [str(pending.pk)]
    assert answer.json()[0]["owner_email"] == "owner@example.com"

    for client in (api, APIClient(token=_token_for(plain_staff))):
        refused = client.get("/api/v1/admin/custom-agents/pending")
        assert refused.status_code == 403
        assert "detail" in refused.json()


def test_it_approves_the_exact_hash_and_tells_the_owner(pending, staff_api, reviewer, settings):
    settings.EMAIL_ENABLED = True
    answer = staff_api.post(
        f"/api/v1/admin/custom-agents/{pending.pk}/approve", {"code_hash": pending.code_hash}
    )

    assert answer.status_code == 200
    pending.refresh_from_db()
    assert pending.status == CustomStrategyStatus.ACTIVE
    assert pending.reviewed_by == reviewer
    review = CustomStrategyReview.objects.get(strategy=pending)
    assert (review.decision, review.code_hash) == ("approved", pending.code_hash)
    assert Notification.objects.filter(owner=pending.owner, kind="custom_strategy:approved")


def test_it_refuses_to_approve_a_hash_it_did_not_show(pending, staff_api):
    answer = staff_api.post(
        f"/api/v1/admin/custom-agents/{pending.pk}/approve", {"code_hash": "0" * 64}
    )

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "code_hash"]
    pending.refresh_from_db()
    assert pending.status == CustomStrategyStatus.PENDING_REVIEW
    assert not CustomStrategyReview.objects.exists()


def test_a_rejection_needs_a_comment_and_notifies_with_it(pending, staff_api, owner):
    bare = staff_api.post(
        f"/api/v1/admin/custom-agents/{pending.pk}/reject", {"code_hash": pending.code_hash}
    )
    assert bare.status_code == 422
    assert bare.json()["detail"][0]["loc"] == ["body", "comment"]

    answer = staff_api.post(
        f"/api/v1/admin/custom-agents/{pending.pk}/reject",
        {"code_hash": pending.code_hash, "comment": "The stop is too wide for a 5m strategy."},
    )

    assert answer.status_code == 200
    pending.refresh_from_db()
    assert pending.status == CustomStrategyStatus.REJECTED
    assert "The stop is too wide" in pending.rejection_reasons[-1]
    notice = Notification.objects.get(owner=owner, kind="custom_strategy:rejected")
    assert "The stop is too wide" in notice.message


def test_it_emails_the_owner_on_a_decision(
    pending, staff_api, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_ENABLED = True
    with django_capture_on_commit_callbacks(execute=True):
        staff_api.post(
            f"/api/v1/admin/custom-agents/{pending.pk}/approve", {"code_hash": pending.code_hash}
        )
    assert any("was approved" in message.subject for message in mail.outbox)
    assert mail.outbox[-1].to == ["owner@example.com"]


def test_another_user_can_neither_see_nor_change_a_strategy(pending, outsider_api, api):
    path = f"/api/v1/custom-agents/{pending.pk}"
    assert api.get(path).status_code == 200
    assert outsider_api.get(path).status_code == 404
    assert outsider_api.patch(path, {"code": "x"}).status_code == 404
    assert outsider_api.post(f"{path}/archive").status_code == 404
    assert outsider_api.get(f"{path}/runs").status_code == 404
    assert outsider_api.get("/api/v1/custom-agents").json() == []
    pending.refresh_from_db()
    assert pending.code == EMA_CROSS.strip("\n")
    assert pending.status == CustomStrategyStatus.PENDING_REVIEW


def test_the_api_creates_and_reports_bad_input_by_field(api, no_llm, owner):
    missing = api.post("/api/v1/custom-agents", {"name": "", "description": "x", "code": "x"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "name"]

    created = api.post(
        "/api/v1/custom-agents", {"name": "EMA", "description": "EMA cross", "code": EMA_CROSS}
    )
    assert created.status_code == 201
    strategy_id = created.json()["id"]
    submitted = api.post(f"/api/v1/custom-agents/{strategy_id}/submit")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "PENDING_REVIEW"
    assert CustomStrategy.objects.get(pk=strategy_id).owner == owner


def test_the_admin_queue_shows_findings_and_approves_the_hash_on_the_page(pending, reviewer):
    browser = Client()
    browser.force_login(reviewer)
    queue = browser.get("/admin/agents/pendingcustomstrategy/")
    assert queue.status_code == 200
    assert "EMA" in queue.content.decode()

    page = browser.get(f"/admin/agents/pendingcustomstrategy/{pending.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert pending.code_hash in html
    assert 'data-testid="static-findings"' in html
    assert 'data-testid="dry-run"' in html
    assert "def strategy(bars, indicators, position, params)" in html

    rejected = browser.post(
        f"/admin/agents/pendingcustomstrategy/{pending.pk}/decide/",
        {"decision": "reject", "code_hash": pending.code_hash, "comment": ""},
    )
    assert rejected.status_code == 302
    pending.refresh_from_db()
    assert pending.status == CustomStrategyStatus.PENDING_REVIEW  # a comment is required

    approved = browser.post(
        f"/admin/agents/pendingcustomstrategy/{pending.pk}/decide/",
        {"decision": "approve", "code_hash": pending.code_hash},
    )
    assert approved.status_code == 302
    pending.refresh_from_db()
    assert pending.status == CustomStrategyStatus.ACTIVE


def test_staff_without_the_permission_cannot_use_the_queue(pending, plain_staff):
    browser = Client()
    browser.force_login(plain_staff)
    assert browser.get("/admin/agents/pendingcustomstrategy/").status_code == 403
    answer = browser.post(
        f"/admin/agents/pendingcustomstrategy/{pending.pk}/decide/",
        {"decision": "approve", "code_hash": pending.code_hash},
    )
    assert answer.status_code == 403
    pending.refresh_from_db()
    assert pending.status == CustomStrategyStatus.PENDING_REVIEW


def test_a_version_still_under_automated_review_is_not_in_the_queue(no_llm, owner, staff_api):
    strategy = strategy_create(owner=owner, name="EMA", description="EMA cross", code=EMA_CROSS)
    CustomStrategy.objects.filter(pk=strategy.pk).update(status=CustomStrategyStatus.PENDING_REVIEW)

    assert staff_api.get("/api/v1/admin/custom-agents/pending").json() == []
    answer = staff_api.post(
        f"/api/v1/admin/custom-agents/{strategy.pk}/approve", {"code_hash": strategy.code_hash}
    )
    assert answer.status_code == 422
    strategy.refresh_from_db()
    assert strategy.status == CustomStrategyStatus.PENDING_REVIEW


def test_the_owner_reads_the_run_audit_through_the_api(pending, api, outsider_api):
    from agents.custom.sandbox import SandboxResult, StrategyOutput
    from agents.custom.services import strategy_run_record

    result = SandboxResult(
        ok=True, outputs=[StrategyOutput(signal="BUY")], duration_ms=4.2, peak_memory_bytes=9_000
    )
    strategy_run_record(strategy=pending, result=result, symbol="AAPL")

    runs = api.get(f"/api/v1/custom-agents/{pending.pk}/runs")

    assert runs.status_code == 200
    [run] = runs.json()
    assert (run["result"], run["code_hash"], run["version"]) == ("BUY", pending.code_hash, 1)
    assert (run["duration_ms"], run["peak_memory_bytes"]) == (4.2, 9000)
    assert outsider_api.get(f"/api/v1/custom-agents/{pending.pk}/runs").status_code == 404
