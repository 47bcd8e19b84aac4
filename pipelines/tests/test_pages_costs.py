"""Costs as a trader reads them on a run's page: a step that cost a fraction of a cent says
"< $0.01" (never "+< $0.01")."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from pipelines.models import Pipeline, PipelineExecution, StepRun
from pipelines.tests.factories import minimal_graph

pytestmark = pytest.mark.django_db


def test_a_sub_cent_step_cost_reads_less_than_a_cent_without_a_sign(owner_client, owner):
    pipeline = Pipeline.objects.create(owner=owner, name="Cheap", graph=minimal_graph())
    now = timezone.now()
    execution = PipelineExecution.objects.create(
        pipeline=pipeline, owner=owner, status="completed", started_at=now, finished_at=now
    )
    StepRun.objects.create(
        execution=execution,
        node_id="t",
        agent_type="time_trigger",
        position=1,
        status="completed",
        started_at=now,
        finished_at=now,
        agent_cost=Decimal("0.0004"),
    )
    html = owner_client.get(reverse("pipelines:execution", args=[execution.pk])).content.decode()
    cells = re.findall(r'<td data-label="Cost" class="num"[^>]*>(.*?)</td>', html)
    assert "&lt; $0.01" in cells
    assert "+&lt; $0.01" not in html
