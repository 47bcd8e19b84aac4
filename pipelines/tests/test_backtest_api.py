"""Backtesting API: datasets (CSV upload checked row by row, synthetic fetch), backtests (refused
before anything runs, run, trades, cancel), sweeps; owner-scoped (an outsider gets 404)."""

from __future__ import annotations

import io
from decimal import Decimal
from uuid import UUID

import pytest
from backtesting.test import GOOG
from django.test.client import MULTIPART_CONTENT

from pipelines.backtest.services import backtest_run
from pipelines.models import Backtest, BacktestStatus, BacktestTrade, Pipeline
from pipelines.tests.test_backtest_engine import SMA_CROSS_GRAPH
from trading.models import Dataset

pytestmark = pytest.mark.django_db

GOOD_CSV = (
    "timestamp,open,high,low,close,volume\n"
    "2024-01-02,10,11,9,10.5,100\n"
    "2024-01-03,10.5,11.5,10,11,100\n"
    "2024-01-04,11,12,10.5,11.5,100\n"
)


def goog_csv() -> bytes:
    frame = GOOG.rename(columns=str.lower)
    frame.index.name = "timestamp"
    return frame.to_csv(date_format="%Y-%m-%d").encode()


def upload(api, content, symbol="GOOG", **form):
    file = io.BytesIO(content if isinstance(content, bytes) else content.encode())
    file.name = "bars.csv"
    return api.post(
        "/api/v1/datasets",
        {"file": file, "symbol": symbol, **form},
        content_type=MULTIPART_CONTENT,
    )


@pytest.fixture
def sma_pipeline(owner):
    return Pipeline.objects.create(owner=owner, name="SMA cross", graph=SMA_CROSS_GRAPH)


@pytest.fixture
def goog(api):
    response = upload(api, goog_csv())
    assert response.status_code == 201, response.content
    return Dataset.objects.get(pk=response.json()["id"])


def test_it_stores_an_uploaded_csv_and_detects_its_timeframe(api, owner):
    response = upload(api, GOOD_CSV, symbol="abc", time_zone="America/New_York")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["symbol"], body["timeframe"], body["bar_count"]) == ("ABC", "1d", 3)
    assert body["starts_at"] == "2024-01-02T05:00:00Z"  # midnight New York
    dataset = Dataset.objects.get(owner=owner)
    assert dataset.source == "upload"
    assert len(bytes(dataset.close)) == 3 * 8  # packed float64s


@pytest.mark.parametrize(
    ("content", "row", "column"),
    [
        ("timestamp,open,high,low,volume\n2024-01-02,1,2,1,5\n", 1, "close"),
        (GOOD_CSV + "2024-01-03,11,12,10,11,100\n", 5, "timestamp"),  # earlier: unsorted
        (GOOD_CSV + "2024-01-04,11,12,10,11,100\n", 5, "timestamp"),  # duplicate
        (GOOD_CSV.replace("11,12,10.5,11.5", "11,12,10.5,nan"), 4, "close"),
        (GOOD_CSV.replace("10.5,11.5,10,11", "-10.5,11.5,10,11"), 3, "open"),
        (GOOD_CSV.replace("10,11,9,10.5", "10,9,11,10.5"), 2, "high"),  # high < low
        (GOOD_CSV.replace("10.5,11.5,10,11", "10.5,11.5,0,11"), 3, "low"),
    ],
)
def test_it_refuses_a_bad_file_naming_the_row_and_column(api, content, row, column):
    response = upload(api, content)

    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert (problem["row"], problem["column"]) == (row, column)
    assert f"Row {row}" in problem["msg"] and column in problem["msg"]
    assert Dataset.objects.count() == 0


def test_it_fetches_a_range_from_the_synthetic_provider(api, owner):
    response = api.post(
        "/api/v1/datasets/fetch",
        {
            "symbol": "AAPL",
            "timeframe": "1d",
            "start": "2025-01-01T00:00:00Z",
            "end": "2025-07-01T00:00:00Z",
        },
    )

    assert response.status_code == 201, response.content
    dataset = Dataset.objects.get(owner=owner)
    assert (dataset.source, dataset.timeframe) == ("synthetic", "1d")
    assert 120 <= dataset.bar_count <= 126  # the XNYS sessions of that half year


def test_a_backtest_runs_and_reports_backtesting_py_s_final_equity(
    api, sma_pipeline, goog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = api.post(
            "/api/v1/backtests",
            {
                "pipeline_id": str(sma_pipeline.pk),
                "dataset_id": str(goog.pk),
                "initial_cash": "10000",
                "commission_pct": "0.2",
            },
        )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"
    assert len(queued) == 1  # the task is sent after commit
    backtest_id = response.json()["id"]

    assert backtest_run(backtest_id=backtest_id) == BacktestStatus.COMPLETED

    detail = api.get(f"/api/v1/backtests/{backtest_id}").json()
    assert detail["status"] == "completed"
    assert (detail["bars_done"], detail["bars_total"], detail["progress_pct"]) == (2148, 2148, 100)
    # backtesting.py: Equity Final [$] 63,341.19136 (see the engine's differential test).
    assert detail["final_equity"] == "63341.19"
    assert detail["trades_count"] == 46
    assert detail["metrics"]["open_trades"] == 1
    assert detail["metrics"]["return_pct"] == pytest.approx(533.41, abs=0.01)
    page = api.get(f"/api/v1/backtests/{backtest_id}/trades?limit=1000").json()
    assert page["count"] == 47
    trades = page["items"]
    assert len(trades) == 47
    assert trades[-1]["is_open"] is True and trades[-1]["exit_at"] is None
    assert BacktestTrade.objects.filter(backtest_id=backtest_id).count() == 47
    equity = Backtest.objects.get(pk=backtest_id).equity
    # Thinned to a chart's worth of points; the last one exact.
    assert len(equity) <= 2001 and equity[-1][1] == 63341.19


def test_it_refuses_a_dataset_without_the_pipeline_s_timeframe(api, owner, goog):
    graph = {
        **SMA_CROSS_GRAPH,
        "nodes": [
            {
                "id": "trigger",
                "agent_type": "technical_trigger",
                "config": {
                    "conditions": [{"indicator": "rsi_14", "operator": "<", "value": 30}],
                },
            }
        ],
    }
    pipeline = Pipeline.objects.create(owner=owner, name="5m RSI", graph=graph)
    # The condition names no timeframe: the trigger's default, 5m, which daily bars lack.
    pipeline.graph["nodes"][0]["config"]["conditions"][0]["timeframe"] = "5m"
    pipeline.save()

    response = api.post(
        "/api/v1/backtests", {"pipeline_id": str(pipeline.pk), "dataset_id": str(goog.pk)}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "dataset_id"]
    assert Backtest.objects.count() == 0


def test_it_refuses_an_empty_range(api, sma_pipeline, goog):
    response = api.post(
        "/api/v1/backtests",
        {
            "pipeline_id": str(sma_pipeline.pk),
            "dataset_id": str(goog.pk),
            "start": "2030-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "start"]
    assert Backtest.objects.count() == 0


def test_it_cancels_a_waiting_backtest(api, sma_pipeline, goog):
    created = api.post(
        "/api/v1/backtests", {"pipeline_id": str(sma_pipeline.pk), "dataset_id": str(goog.pk)}
    ).json()

    response = api.post(f"/api/v1/backtests/{created['id']}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert backtest_run(backtest_id=created["id"]) is None  # a worker finds nothing to run
    assert BacktestTrade.objects.count() == 0


def test_an_outsider_gets_404_and_changes_nothing(api, outsider_api, sma_pipeline, goog):
    created = api.post(
        "/api/v1/backtests", {"pipeline_id": str(sma_pipeline.pk), "dataset_id": str(goog.pk)}
    ).json()

    assert outsider_api.get(f"/api/v1/backtests/{created['id']}").status_code == 404
    assert outsider_api.get(f"/api/v1/backtests/{created['id']}/trades").status_code == 404
    assert outsider_api.post(f"/api/v1/backtests/{created['id']}/cancel").status_code == 404
    assert outsider_api.get(f"/api/v1/datasets/{goog.pk}").status_code == 404
    assert outsider_api.get("/api/v1/datasets").json() == {"items": [], "count": 0}
    # Nor may they backtest with someone else's dataset or pipeline.
    response = outsider_api.post(
        "/api/v1/backtests", {"pipeline_id": str(sma_pipeline.pk), "dataset_id": str(goog.pk)}
    )
    assert response.status_code == 404
    assert Backtest.objects.get(pk=created["id"]).status == "pending"
    assert Backtest.objects.count() == 1


def test_a_sweep_creates_one_backtest_per_combination(
    api, sma_pipeline, goog, django_capture_on_commit_callbacks
):
    grid = {"risk.equity_fraction_pct": [50, 100], "trade.exit_logic": ["OR", "AND"]}
    with django_capture_on_commit_callbacks() as queued:
        response = api.post(
            "/api/v1/sweeps",
            {
                "pipeline_id": str(sma_pipeline.pk),
                "dataset_id": str(goog.pk),
                "commission_pct": "0.2",
                "grid": grid,
            },
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["combinations"], body["status"], body["finished"]) == (4, "running", 0)
    assert len(queued) == 1  # one Celery group, sent after commit
    for backtest in Backtest.objects.filter(sweep_id=body["id"]):
        backtest_run(backtest_id=backtest.pk)
    done = api.get(f"/api/v1/sweeps/{body['id']}").json()
    assert (done["status"], done["finished"]) == ("completed", 4)
    best = done["rows"][0]
    assert best["parameters"]["risk.equity_fraction_pct"] == 100
    assert best["final_equity"] == "63341.19"


def test_a_sweep_naming_no_node_is_refused(api, sma_pipeline, goog):
    response = api.post(
        "/api/v1/sweeps",
        {
            "pipeline_id": str(sma_pipeline.pk),
            "dataset_id": str(goog.pk),
            "grid": {"nowhere.x": [1, 2]},
        },
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "grid"]
    assert Backtest.objects.count() == 0


def test_its_trades_and_equity_come_out_in_analytics_shapes(api, sma_pipeline, goog):
    from decimal import Decimal

    from pipelines.backtest.selectors import backtest_closed_trades, backtest_equity_series

    created = api.post(
        "/api/v1/backtests",
        {"pipeline_id": str(sma_pipeline.pk), "dataset_id": str(goog.pk), "commission_pct": "0.2"},
    ).json()
    backtest_run(backtest_id=created["id"])
    backtest = Backtest.objects.get(pk=created["id"])

    trades = backtest_closed_trades(backtest=backtest)
    equity = backtest_equity_series(backtest=backtest)

    assert len(trades) == 46
    assert {"opened_at", "closed_at", "net_pnl", "commission", "side"} <= set(trades[0])
    # The closed trades' net P&L and the open one's mark add up to the final equity.
    open_pnl = BacktestTrade.objects.get(backtest=backtest, is_open=True).net_pnl
    assert Decimal("10000") + sum(t["net_pnl"] for t in trades) + open_pnl == pytest.approx(
        backtest.final_equity, abs=Decimal("0.30")
    )
    assert equity[-1][1] == Decimal("63341.19")


def test_the_golden_cross_template_backtests_on_synthetic_4h_bars(owner):
    from datetime import UTC, datetime

    from pipelines.backtest.checks import BacktestSettings
    from pipelines.backtest.services import backtest_create
    from pipelines.blueprints import pipeline_create_from_blueprint
    from trading.marketdata.datasets import dataset_create_from_provider
    from trading.marketdata.synthetic import SyntheticProvider

    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="golden_cross_1d")
    dataset = dataset_create_from_provider(
        owner=owner,
        provider=SyntheticProvider(seed=42),
        source="synthetic",
        symbol="AAPL",
        # The template's bias reads 4h and 1d bars: a 4h dataset gives both.
        timeframe="4h",
        start=datetime(2016, 1, 1, tzinfo=UTC),
        end=datetime(2025, 12, 31, tzinfo=UTC),
    )
    backtest = backtest_create(
        owner=owner,
        pipeline=pipeline,
        dataset=dataset,
        settings=BacktestSettings(commission_per_share=Decimal("0.005")),
        enqueue=False,
    )

    assert backtest_run(backtest_id=backtest.pk) == BacktestStatus.COMPLETED
    backtest.refresh_from_db()
    trades = list(BacktestTrade.objects.filter(backtest=backtest))
    assert backtest.bars_done == backtest.bars_total == dataset.bar_count
    # Every trade is long (the bias's bullish reads, on a long-only backtest) and carries the
    # strategy's swing stop below its targets (set at the signal's close: the next open may gap).
    assert trades and all(t.side == "long" for t in trades)
    assert all(t.stop_loss < t.target_1 < t.target_2 for t in trades)
    assert backtest.final_equity == (Decimal("10000") + sum(t.net_pnl for t in trades)).quantize(
        Decimal("0.01")
    ) or any(t.is_open for t in trades)


def start(api, pipeline, dataset) -> str:
    response = api.post(
        "/api/v1/backtests", {"pipeline_id": str(pipeline.pk), "dataset_id": str(dataset.pk)}
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_it_pages_your_backtests_newest_first_and_filters_them(
    api, outsider_api, owner, sma_pipeline, goog
):
    other = Pipeline.objects.create(owner=owner, name="SMA again", graph=SMA_CROSS_GRAPH)
    first, second, third = (start(api, p, goog) for p in (sma_pipeline, other, sma_pipeline))
    api.post(f"/api/v1/backtests/{first}/cancel")

    page = api.get("/api/v1/backtests?limit=2").json()
    rest = api.get("/api/v1/backtests?limit=2&offset=2").json()
    of_other = api.get(f"/api/v1/backtests?pipeline_id={other.pk}").json()
    cancelled = api.get("/api/v1/backtests?status=cancelled").json()

    assert page["count"] == 3
    assert [b["id"] for b in page["items"]] == [third, second]
    assert [b["id"] for b in rest["items"]] == [first]
    assert [b["id"] for b in of_other["items"]] == [second]
    assert [b["id"] for b in cancelled["items"]] == [first]
    assert outsider_api.get("/api/v1/backtests").json() == {"items": [], "count": 0}
    assert outsider_api.get(f"/api/v1/backtests?pipeline_id={other.pk}").json()["count"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("status=finished", "status"),
        ("pipeline_id=42", "pipeline_id"),
    ],
)
def test_a_bad_list_parameter_is_a_422_naming_it(api, query, field):
    response = api.get(f"/api/v1/backtests?{query}")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


def test_a_backtest_s_trades_come_in_pages_with_why_each_was_entered(
    api, outsider_api, sma_pipeline, goog
):
    backtest_id = start(api, sma_pipeline, goog)
    backtest_run(backtest_id=backtest_id)
    stored = list(BacktestTrade.objects.filter(backtest_id=backtest_id).order_by("entry_bar"))

    page = api.get(f"/api/v1/backtests/{backtest_id}/trades?limit=5&offset=40").json()

    assert page["count"] == len(stored) == 47
    assert [t["entry_bar"] for t in page["items"]] == [t.entry_bar for t in stored[40:45]]
    reasoning = page["items"][0]["reasoning"]
    assert reasoning == stored[40].reasoning
    assert reasoning.startswith("Trigger: sma_10 crosses above sma_20 (1d)")
    assert api.get(f"/api/v1/backtests/{backtest_id}/trades?limit=0").status_code == 422
    assert outsider_api.get(f"/api/v1/backtests/{backtest_id}/trades?limit=5").status_code == 404


def test_it_pages_your_datasets_newest_first_with_the_id_breaking_a_tie(api, outsider_api, owner):
    ids = [upload(api, GOOD_CSV, symbol=symbol).json()["id"] for symbol in ("AAA", "BBB", "CCC")]
    theirs = upload(outsider_api, GOOD_CSV, symbol="ZZZ").json()["id"]
    # The two newest were stored in the same microsecond: the id decides between them.
    newest = Dataset.objects.get(pk=ids[2]).created_at
    Dataset.objects.filter(pk=ids[1]).update(created_at=newest)
    tied = sorted(ids[1:], key=lambda pk: UUID(pk))

    page = api.get("/api/v1/datasets?limit=2").json()
    rest = api.get("/api/v1/datasets?limit=2&offset=2").json()

    assert page["count"] == rest["count"] == 3
    assert [d["id"] for d in page["items"]] == tied
    assert [d["id"] for d in rest["items"]] == [ids[0]]
    assert page["items"][0]["bar_count"] == 3 and "open" not in page["items"][0]
    assert outsider_api.get("/api/v1/datasets").json()["count"] == 1
    assert [d["id"] for d in outsider_api.get("/api/v1/datasets").json()["items"]] == [theirs]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=many", "limit"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999", "offset"),
    ],
)
def test_it_names_a_bad_dataset_list_parameter_in_a_422(api, query, field):
    response = api.get(f"/api/v1/datasets?{query}")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
