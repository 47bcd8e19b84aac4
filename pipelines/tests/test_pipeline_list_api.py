"""GET /api/v1/pipelines: a page of summaries (no graph unless ?expand=graph), when each last
ran, the owner's only, in a fixed number of queries however many pipelines and runs there are."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipelines.models import ExecutionStatus, Pipeline, PipelineExecution
from pipelines.tests.factories import day_trading_graph

pytestmark = pytest.mark.django_db

PIPELINES = "/api/v1/pipelines"


def _pipelines(owner, count: int) -> list[Pipeline]:
    return Pipeline.objects.bulk_create(
        Pipeline(owner=owner, name=f"bot {n}", graph=day_trading_graph(), symbols=["AAPL"])
        for n in range(count)
    )


def _runs(pipeline: Pipeline, count: int) -> list[PipelineExecution]:
    return [
        PipelineExecution.objects.create(
            pipeline=pipeline,
            owner=pipeline.owner,
            trading_mode=pipeline.trading_mode,
            status=ExecutionStatus.COMPLETED,  # one active run per pipeline at most
        )
        for _ in range(count)
    ]


def test_it_lists_summaries_without_the_graph(api, owner):
    [pipeline] = _pipelines(owner, 1)
    runs = _runs(pipeline, 3)

    response = api.get(PIPELINES)

    assert response.status_code == 200
    [row] = response.json()["items"]
    assert "graph" not in row
    assert row["id"] == str(pipeline.pk)
    assert row["name"] == "bot 0"
    assert row["node_count"] == len(day_trading_graph()["nodes"])
    latest = max(run.created_at for run in runs)
    assert datetime.fromisoformat(row["last_execution_at"]) == latest.replace(
        microsecond=latest.microsecond // 1000 * 1000  # the API answers in milliseconds
    )


def test_it_includes_the_graph_when_expanded(api, owner):
    [pipeline] = _pipelines(owner, 1)

    [row] = api.get(PIPELINES, {"expand": "graph"}).json()["items"]

    assert row["graph"] == day_trading_graph()
    assert row["last_execution_at"] is None
    # The detail has always had it, and still has it.
    assert api.get(f"{PIPELINES}/{pipeline.pk}").json()["graph"] == row["graph"]


def test_it_refuses_an_unknown_expansion_naming_it(api, owner):
    response = api.get(PIPELINES, {"expand": "state"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == ["expand", 0]


def test_it_pages_newest_change_first_without_repeats(api, owner):
    created = _pipelines(owner, 7)

    first = api.get(PIPELINES, {"limit": 4}).json()
    second = api.get(PIPELINES, {"limit": 4, "offset": 4}).json()

    assert first["count"] == second["count"] == 7
    ids = [row["id"] for row in first["items"] + second["items"]]
    assert sorted(ids) == sorted(str(p.pk) for p in created)
    updated = [row["updated_at"] for row in first["items"] + second["items"]]
    assert updated == sorted(updated, reverse=True)


def test_it_lists_only_the_owners_pipelines(api, outsider_api, owner, outsider):
    _pipelines(owner, 2)
    _pipelines(outsider, 1)

    assert api.get(PIPELINES).json()["count"] == 2
    assert outsider_api.get(PIPELINES).json()["count"] == 1
    assert outsider_api.get(PIPELINES, {"status": "active"}).json() == {"items": [], "count": 0}


def test_it_takes_the_same_queries_at_any_size(api, owner):
    [first] = _pipelines(owner, 1)
    _runs(first, 1)
    api.get(PIPELINES)  # the token's user is then known (accounts/token_users.py)
    with CaptureQueriesContext(connection) as few:
        assert api.get(PIPELINES).json()["count"] == 1
    for pipeline in _pipelines(owner, 30):
        _runs(pipeline, 2)
    with CaptureQueriesContext(connection) as many:
        assert api.get(PIPELINES, {"expand": "graph"}).json()["count"] == 31

    assert len(many) == len(few) == 2  # the count and the page
