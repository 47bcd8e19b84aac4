"""A custom strategy in a SIMULATION pipeline: English → code → review → approval → a trade; its
versions (an edit needs approval again while pipelines keep the approved one) and its audit."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from agents.custom import selectors
from agents.custom.services import (
    strategy_approve,
    strategy_create,
    strategy_submit,
    strategy_update,
)
from agents.models import CustomStrategy, CustomStrategyRun, CustomStrategyStatus
from agents.tests.custom_support import ALWAYS_BUY, APPROVE
from pipelines import engine, services
from pipelines.models import StepRun
from trading.indicators import DEFAULT_INDICATORS
from trading.models import Order, Trade

pytestmark = pytest.mark.django_db(transaction=True)


def custom_pipeline(owner, lineage, params=None):
    def node(index, agent_type, config):
        return {
            "id": f"node-{index}",
            "agent_type": agent_type,
            "position": {"x": 100 * index, "y": 100},
            "config": config,
        }

    graph = {
        "nodes": [
            node(1, "time_trigger", {"schedule": {"type": "market_hours", "offset_minutes": 5}}),
            node(
                2,
                "market_data_agent",
                {"timeframes": ["5m"], "indicators": list(DEFAULT_INDICATORS)},
            ),
            node(3, "custom_strategy", {"strategy": str(lineage), "params": params or {}}),
            node(4, "risk_manager_agent", {"risk_per_trade_pct": 1.0, "max_position_pct": 10}),
            node(5, "trade_manager_agent", {}),
        ],
        "edges": [{"from": f"node-{i}", "to": f"node-{i + 1}"} for i in range(1, 5)],
    }
    pipeline, _ = services.pipeline_create(
        owner=owner,
        name="Custom run",
        graph=graph,
        symbols=["AAPL"],
        mode_config={
            "simulate_partial_fills": False,
            "simulate_rejections": False,
            "initial_balance": "100000",
        },
    )
    return pipeline


def approved(owner, reviewer, code, *, openai_fake=None):
    if openai_fake is not None:
        openai_fake.answer(APPROVE)
    strategy = strategy_create(owner=owner, name="Always in", description="Buy.", code=code)
    strategy = strategy_submit(strategy=strategy)
    assert strategy.status == CustomStrategyStatus.PENDING_REVIEW, strategy.rejection_reasons
    return strategy_approve(
        strategy_id=strategy.pk, reviewer=reviewer, code_hash=strategy.code_hash
    )


def run(pipeline, clock):
    execution = services.execution_start(pipeline=pipeline, enqueue=False)
    status = engine.execution_run(execution_id=execution.pk, task_id="t", clock=clock)
    return execution, status


def test_english_to_a_simulated_trade_end_to_end(openai_fake, owner, reviewer, clock):
    openai_fake.answer(json.dumps({"code": ALWAYS_BUY, "explanation": "Always long."}))
    strategy = strategy_create(
        owner=owner, name="Always in", description="Always be long, 1% stop", generate=True
    )
    openai_fake.answer(APPROVE)
    strategy = strategy_submit(strategy=strategy)
    assert strategy.status == CustomStrategyStatus.PENDING_REVIEW
    # Approved by a reviewer in the Django admin queue, on the hash the page showed.
    admin = Client()
    admin.force_login(reviewer)
    page = admin.get(f"/admin/agents/pendingcustomstrategy/{strategy.pk}/change/")
    assert strategy.code_hash in page.content.decode()
    decided = admin.post(
        f"/admin/agents/pendingcustomstrategy/{strategy.pk}/decide/",
        {"decision": "approve", "code_hash": strategy.code_hash},
    )
    assert decided.status_code == 302
    strategy.refresh_from_db()
    assert strategy.status == CustomStrategyStatus.ACTIVE
    pipeline = custom_pipeline(owner, strategy.lineage, params={"stop_pct": 0.5})

    execution, status = run(pipeline, clock)

    assert status == "completed", StepRun.objects.filter(execution=execution).values("error")
    order = Order.objects.get(owner=owner, execution_id=execution.pk, leg="entry")
    assert (order.symbol, order.side, order.status) == ("AAPL", "buy", "filled")
    trade = Trade.objects.get(owner=owner, execution_id=execution.pk)
    # The strategy's own stop: 0.5 % under the entry close (from the node's params).
    assert float(trade.stop_loss) == pytest.approx(float(order.requested_price) * 0.995, rel=2e-3)
    audit = CustomStrategyRun.objects.get(strategy=strategy)
    assert audit.code_hash == strategy.code_hash
    assert audit.version == 1
    assert audit.result == "BUY"
    assert audit.success is True
    assert audit.duration_ms > 0
    assert audit.peak_memory_bytes > 0
    assert str(audit.execution_id) == str(execution.pk)
    assert str(audit.pipeline_id) == str(pipeline.pk)
    strategy.refresh_from_db()
    assert (strategy.usage_count, strategy.success_count) == (1, 1)
    assert selectors.strategy_performance(strategy=strategy)["trades"] == 1


def test_editing_an_active_strategy_needs_approval_while_pipelines_keep_it(
    no_llm, owner, reviewer, clock
):
    version_1 = approved(owner, reviewer, ALWAYS_BUY)
    pipeline = custom_pipeline(owner, version_1.lineage)

    version_2 = strategy_update(
        strategy=version_1, code=ALWAYS_BUY.replace("always in, v1", "always in, v2")
    )

    assert version_2.pk != version_1.pk
    assert (version_2.version, version_2.status) == (2, CustomStrategyStatus.DRAFT)
    version_1.refresh_from_db()
    assert version_1.status == CustomStrategyStatus.ACTIVE
    assert version_1.code == ALWAYS_BUY.strip("\n")

    strategy_submit(strategy=version_2)
    execution, status = run(pipeline, clock)
    assert status == "completed"
    assert CustomStrategyRun.objects.get(execution_id=execution.pk).version == 1
    trade = Trade.objects.get(execution_id=execution.pk)
    assert trade.quantity > 0

    version_2.refresh_from_db()
    strategy_approve(strategy_id=version_2.pk, reviewer=reviewer, code_hash=version_2.code_hash)
    version_1.refresh_from_db()
    assert version_1.status == CustomStrategyStatus.ARCHIVED
    second, status = run(pipeline, clock)
    assert status == "completed"
    assert CustomStrategyRun.objects.get(execution_id=second.pk).version == 2


def test_another_users_pipeline_cannot_run_the_strategy(no_llm, owner, outsider, reviewer, clock):
    strategy = approved(owner, reviewer, ALWAYS_BUY)
    pipeline = custom_pipeline(outsider, strategy.lineage)

    execution, status = run(pipeline, clock)

    assert status == "failed"
    step = StepRun.objects.get(execution=execution, agent_type="custom_strategy")
    assert "not found" in step.error
    assert not CustomStrategyRun.objects.exists()
    assert not Order.objects.filter(owner=outsider).exists()


def test_a_crashing_strategy_fails_the_step_and_repeated_anomalies_suspend_it(
    no_llm, owner, reviewer, clock, settings
):
    settings.CUSTOM_STRATEGY_ANOMALY_LIMIT = 2
    settings.CUSTOM_STRATEGY_WALL_SECONDS = 1
    # Above the wall limit: a loop's CPU time never outruns the clock, so the wall-clock kill
    # is what stops it (with both at 1 s either could fire first; both contain it).
    settings.CUSTOM_STRATEGY_CPU_SECONDS = 2
    # Passes review and the dry run, then loops forever on a real market's volume.
    code = (
        "def strategy(bars, indicators, position, params):\n"
        "    if bars['5m']['volume'][-1] > 0 and len(bars['5m']['close']) > 30:\n"
        "        while True:\n"
        "            pass\n"
        "    return 'HOLD'\n"
    )
    strategy = strategy_create(owner=owner, name="Loop", description="x", code=code)
    strategy.code = code
    strategy.save()
    # Synthetic dry-run bars are 120 long, so this one loops there too: approve it directly as
    # a reviewer who missed it would, to see the run-time containment.
    CustomStrategy.objects.filter(pk=strategy.pk).update(
        status=CustomStrategyStatus.PENDING_REVIEW, dry_run_result={"passed": True}
    )
    strategy_approve(strategy_id=strategy.pk, reviewer=reviewer, code_hash=strategy.code_hash)
    pipeline = custom_pipeline(owner, strategy.lineage)

    first, status = run(pipeline, clock)
    assert status == "failed"
    step = StepRun.objects.get(execution=first, agent_type="custom_strategy")
    assert "longer than 1 s" in step.error
    _, status = run(pipeline, clock)
    assert status == "failed"

    strategy.refresh_from_db()
    assert strategy.status == CustomStrategyStatus.SUSPENDED
    assert strategy.error_count == 2
    assert CustomStrategyRun.objects.filter(strategy=strategy, is_anomaly=True).count() == 2
    assert owner.notifications.filter(kind="custom_strategy:suspended").exists()
    assert reviewer.notifications.filter(kind="custom_strategy:suspended").exists()


def test_the_market_data_agent_fetches_the_timeframes_the_strategy_declares(
    no_llm, owner, reviewer, clock
):
    code = "TIMEFRAMES = ['15m', '5m']\n" + ALWAYS_BUY.replace(
        'close = bars["5m"]["close"][-1]', 'close = bars["15m"]["close"][-1]'
    )
    strategy = approved(owner, reviewer, code)
    assert strategy.timeframes == ["15m", "5m"]
    pipeline = custom_pipeline(owner, strategy.lineage)  # its market data node lists 5m only

    execution, status = run(pipeline, clock)

    assert status == "completed", StepRun.objects.filter(execution=execution).values("error")
    audit = CustomStrategyRun.objects.get(execution_id=execution.pk)
    assert (audit.success, audit.result) == (True, "BUY")
