"""My strategies pages and the builder's "Custom: <name>" palette entries and params form."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from agents.custom.services import strategy_approve, strategy_create, strategy_submit
from agents.models import CustomStrategy, CustomStrategyStatus
from agents.tests.custom_support import EMA_CROSS

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(no_llm, owner, reviewer):
    strategy = strategy_create(owner=owner, name="EMA cross", description="EMA", code=EMA_CROSS)
    strategy = strategy_submit(strategy=strategy)
    return strategy_approve(
        strategy_id=strategy.pk, reviewer=reviewer, code_hash=strategy.code_hash
    )


def test_it_shows_an_empty_state_and_says_when_no_model_is_configured(owner_client, no_llm):
    page = owner_client.get("/strategies/custom/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="empty-state"' in html
    assert 'data-testid="no-llm"' in html


def test_it_generates_code_shows_it_highlighted_and_submits(owner_client, owner, openai_fake):
    openai_fake.answer({"code": EMA_CROSS, "explanation": "Crosses of two EMAs."})
    form = {"name": "EMA", "description": "Buy on EMA 9/21 cross", "code": ""}

    generated = owner_client.post("/strategies/custom/new/", {**form, "action": "generate"})

    html = generated.content.decode()
    assert 'data-testid="generated"' in html
    assert 'class="code-highlight"' in html
    assert "Crosses of two EMAs." in html
    assert not CustomStrategy.objects.exists()

    openai_fake.answer({"approved": True, "issues": [], "risk_level": "low", "explanation": ""})
    submitted = owner_client.post(
        "/strategies/custom/new/", {**form, "code": EMA_CROSS, "action": "submit"}
    )
    strategy = CustomStrategy.objects.get(owner=owner)
    assert submitted.status_code == 302
    assert submitted.url == f"/strategies/custom/{strategy.pk}/"
    assert strategy.status == CustomStrategyStatus.PENDING_REVIEW
    detail = owner_client.get(submitted.url).content.decode()
    assert "Awaiting review" in detail
    assert 'data-testid="pending-note"' in detail


def test_a_rejected_strategy_shows_its_reasons(owner_client, owner, no_llm):
    code = "import os\n\ndef strategy(bars, indicators, position, params):\n    return 'HOLD'\n"
    answer = owner_client.post(
        "/strategies/custom/new/",
        {"name": "Bad", "description": "x", "code": code, "action": "submit"},
    )
    detail = owner_client.get(answer.url).content.decode()
    assert 'data-testid="rejection"' in detail
    assert "Import is not allowed" in detail


def test_editing_an_active_strategy_saves_a_new_version(owner_client, active):
    answer = owner_client.post(
        f"/strategies/custom/{active.pk}/edit/",
        {"description": "EMA v2", "code": EMA_CROSS.replace("warming up", "warming")},
    )
    version_2 = CustomStrategy.objects.get(lineage=active.lineage, version=2)
    assert answer.url == f"/strategies/custom/{version_2.pk}/"
    assert version_2.status == CustomStrategyStatus.DRAFT
    active.refresh_from_db()
    assert active.status == CustomStrategyStatus.ACTIVE


def test_another_user_gets_404_and_changes_nothing(active, outsider):
    browser = Client()
    browser.force_login(outsider)
    assert browser.get(f"/strategies/custom/{active.pk}/").status_code == 404
    assert browser.post(f"/strategies/custom/{active.pk}/archive/").status_code == 404
    assert (
        browser.post(
            f"/strategies/custom/{active.pk}/edit/", {"description": "x", "code": "y"}
        ).status_code
        == 404
    )
    active.refresh_from_db()
    assert active.status == CustomStrategyStatus.ACTIVE
    assert CustomStrategy.objects.count() == 1
    listing = browser.get("/strategies/custom/").content.decode()
    assert 'data-testid="strategy-card"' not in listing


def test_the_builder_offers_the_owners_active_strategies_only(owner_client, active, outsider):
    html = owner_client.get("/pipelines/new/").content.decode()
    assert "Custom: EMA cross" in html
    assert "data-agent-config=" in html
    assert str(active.lineage) in html

    browser = Client()
    browser.force_login(outsider)
    assert "Custom: EMA cross" not in browser.get("/pipelines/new/").content.decode()


def test_the_config_panel_shows_the_strategys_params(owner_client, active):
    panel = owner_client.post(
        "/pipelines/builder/node/",
        {
            "agent_type": "custom_strategy",
            "node_id": "node-3",
            "config": json.dumps({"strategy": str(active.lineage), "params": {}}),
            "graph": json.dumps({"nodes": [], "edges": []}),
        },
    )
    html = panel.content.decode()
    assert panel.status_code == 200
    assert "Min volume" in html
    assert 'value="1000"' in html  # the declared default
    assert f'<option value="{active.lineage}" selected>EMA cross v1</option>' in html
