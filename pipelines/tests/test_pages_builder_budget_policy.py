"""The builder's budget policy (§11.5): whether a pipeline also closes its positions when its
budget runs out, saved into its settings without touching the others."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from pipelines.models import Pipeline
from pipelines.tests.factories import day_trading_graph

pytestmark = pytest.mark.django_db

POLICY = "close_positions_on_budget_exhausted"


def builder_form(**overrides):
    data = {
        "name": "Budgeted crew",
        "symbols": "AAPL",
        "primary_timeframe": "5m",
        "run_mode": "run_once",
        "trading_mode": "SIMULATION",
        "active_days": [str(d) for d in range(7)],
        "stop_pipeline_at_end": "on",
        "graph": json.dumps(day_trading_graph()),
    }
    data.update(overrides)
    return data


def checkbox(html: str) -> str:
    return re.search(rf'<input[^>]*name="{POLICY}"[^>]*>', html).group(0)


def test_it_saves_the_close_positions_policy_from_a_new_pipeline(owner_client, owner):
    page = owner_client.get(reverse("pipelines:builder")).content.decode()
    assert "checked" not in checkbox(page)  # off unless asked for

    response = owner_client.post(reverse("pipelines:builder"), builder_form(**{POLICY: "on"}))

    assert response.status_code == 302
    pipeline = Pipeline.objects.get(owner=owner)
    assert pipeline.settings[POLICY] is True
    assert pipeline.settings["max_retries"] == 3  # the other settings keep their defaults


def test_it_turns_the_policy_off_and_keeps_the_other_settings(
    owner_client, owner, outsider, client
):
    owner_client.post(reverse("pipelines:builder"), builder_form(**{POLICY: "on"}))
    pipeline = Pipeline.objects.get(owner=owner)
    pipeline.settings = {**pipeline.settings, "max_cost_per_run": "0.5000"}
    pipeline.save()
    edit = reverse("pipelines:builder", args=[pipeline.pk])
    assert "checked" in checkbox(owner_client.get(edit).content.decode())

    # Someone else's pipeline: not found, and nothing changes.
    client.force_login(outsider)
    assert client.post(edit, builder_form(name="Taken over")).status_code == 404
    pipeline.refresh_from_db()
    assert pipeline.name == "Budgeted crew" and pipeline.settings[POLICY] is True

    response = owner_client.post(edit, builder_form())  # the box left unticked

    assert response.status_code == 302
    pipeline.refresh_from_db()
    assert pipeline.settings[POLICY] is False
    assert Decimal(pipeline.settings["max_cost_per_run"]) == Decimal("0.5")
    assert "checked" not in checkbox(owner_client.get(edit).content.decode())
