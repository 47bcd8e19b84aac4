"""Pipeline (the agent graph and how it runs), PipelineExecution, StepRun and Report."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import JSONField, Q, Value

from trading.models import Mode

# One list of trading modes for the whole product: the ledger's.
TradingMode = Mode


class RunMode(models.TextChoices):
    RUN_ONCE = "run_once", "Run once"
    RUN_CONTINUOUS = "run_continuous", "Run continuously"
    RUN_SCHEDULED = "run_scheduled", "Run on a schedule"
    RUN_ON_SIGNAL = "run_on_signal", "Run on signal (one position at a time)"


# The run modes where the end of one run starts the next cycle. Not on-signal: its runs are
# started by signals only (one per matching signal, for the signal's tickers), never by
# activation or by the end of a run — a restart would hold the one-active-execution slot, and
# every signal would then be skipped as "already pending or running".
CYCLING_MODES = (RunMode.RUN_CONTINUOUS,)


class PipelineStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    ARCHIVED = "archived", "Archived"


class Pipeline(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pipelines"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    # The §5.1 graph: {"nodes": [{id, agent_type, position, config}], "edges": [{from, to}]}.
    graph = models.JSONField(default=dict)
    # §5.1 "settings": max_retries, retry_delay, per-run token/cost caps, replay cache …
    settings = models.JSONField(default=dict, blank=True)
    symbols = models.JSONField(default=list, blank=True)
    primary_timeframe = models.CharField(max_length=4, default="5m")
    run_mode = models.CharField(max_length=20, choices=RunMode.choices, default=RunMode.RUN_ONCE)
    trading_mode = models.CharField(
        max_length=12, choices=TradingMode.choices, default=TradingMode.SIMULATION
    )
    # Mode-specific parameters (§12.4): slippage_pct, commission_per_share, initial_balance …
    mode_config = models.JSONField(default=dict, blank=True)
    schedule = models.JSONField(null=True, blank=True)
    signal_subscriptions = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=PipelineStatus.choices, default=PipelineStatus.DRAFT
    )
    # The pipeline's own budget allocation, on top of the owner's budgets (None = no cap).
    daily_budget = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    template_key = models.CharField(max_length=50, blank=True)
    # Where symbols come from when not listed: a scanner (signals app); signal-driven pipelines
    # match incoming signals on its tickers.
    scanner = models.ForeignKey(
        "signals.Scanner",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pipelines",
    )
    # The brokerage account PAPER and LIVE runs trade through.
    broker_connection = models.ForeignKey(
        "accounts.BrokerConnection",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pipelines",
    )
    mode_changed_at = models.DateTimeField(null=True, blank=True)
    mode_changed_by = models.ForeignKey(
        "accounts.User",  # `settings` is a field name in this class body
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    mode_change_reason = models.TextField(blank=True)
    # Why the pipeline is not running now, when it is active but idle (window, limit, position).
    status_reason = models.CharField(max_length=255, blank=True)
    next_scheduled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "status"])]

    def __str__(self) -> str:
        return self.name


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    WAITING_TRIGGER = "waiting_trigger", "Waiting for trigger"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_EXECUTION_STATUSES = [
    ExecutionStatus.PENDING,
    ExecutionStatus.WAITING_TRIGGER,
    ExecutionStatus.RUNNING,
]
FINISHED_EXECUTION_STATUSES = [
    ExecutionStatus.COMPLETED,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
]


class TriggerSource(models.TextChoices):
    MANUAL = "manual", "Started by hand"
    SCHEDULE = "schedule", "Schedule"
    SIGNAL = "signal", "Signal"
    RESTART = "restart", "Continuous restart"
    API = "api", "API"


class PipelineExecution(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="executions")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="executions"
    )
    status = models.CharField(
        max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING
    )
    trigger_source = models.CharField(
        max_length=10, choices=TriggerSource.choices, default=TriggerSource.MANUAL
    )
    trigger_detail = models.JSONField(default=dict, blank=True)
    trading_mode = models.CharField(max_length=12, choices=TradingMode.choices)
    # The graph as it was when the run started: editing the pipeline never changes a run.
    graph = models.JSONField(default=dict)
    # The PipelineState, saved after every step. Its market data (the bulk of it: candles and
    # indicators per symbol and timeframe) lives in its own column and is rewritten only when
    # it changes, so the per-step save stays small.
    # The database defaults let hand-written INSERTs (pipelines.services.EXECUTIONS_INSERT_CTE)
    # leave these columns out; the ORM writes the Python defaults, which are the same.
    state = models.JSONField(default=dict, db_default=Value({}, JSONField()))
    market_data = models.JSONField(default=dict, db_default=Value({}, JSONField()))
    current_node = models.CharField(max_length=100, blank=True, default="", db_default="")
    next_check_at = models.DateTimeField(null=True, blank=True)
    # Lease: which task runs it and until when; a redelivered task or the reaper takes over an
    # execution only when the lease is its own or has expired.
    lease_owner = models.CharField(max_length=100, blank=True, default="", db_default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, db_default=0)
    total_cost = models.DecimalField(max_digits=14, decimal_places=8, default=0, db_default=0)
    error = models.TextField(blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["pipeline", "-created_at"]),
            models.Index(fields=["owner", "-created_at"]),
            models.Index(
                fields=["next_check_at"],
                name="waiting_trigger_due",
                condition=Q(status="waiting_trigger"),
            ),
        ]
        constraints = [
            # One execution at a time per pipeline, enforced by the database, not by a check.
            models.UniqueConstraint(
                fields=["pipeline"],
                condition=Q(status__in=["pending", "waiting_trigger", "running"]),
                name="one_active_execution_per_pipeline",
            )
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_id} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_EXECUTION_STATUSES

    @property
    def full_state(self) -> dict:
        if not self.state:
            return {}
        return {**self.state, "market_data": self.market_data or {}}

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.updated_at
        return max(0.0, (end - self.started_at).total_seconds())


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    WAITING = "waiting", "Waiting"
    CANCELLED = "cancelled", "Cancelled"


class StepRun(models.Model):
    """One agent's work in one execution (one row per node, updated on retry)."""

    execution = models.ForeignKey(PipelineExecution, on_delete=models.CASCADE, related_name="steps")
    node_id = models.CharField(max_length=100)
    agent_type = models.CharField(max_length=100)
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=StepStatus.choices)
    engine = models.CharField(max_length=10, default="rules")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    # The database defaults let the engine's step-boundary INSERT
    # (pipelines.execution_state.STEP_BOUNDARY_SQL) write only what a starting step knows.
    attempts = models.PositiveIntegerField(default=1, db_default=1)
    tokens_in = models.PositiveIntegerField(default=0, db_default=0)
    tokens_out = models.PositiveIntegerField(default=0, db_default=0)
    agent_cost = models.DecimalField(max_digits=14, decimal_places=8, default=0, db_default=0)
    token_cost = models.DecimalField(max_digits=14, decimal_places=8, default=0, db_default=0)
    output_summary = models.TextField(blank=True, default="", db_default="")
    error = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["execution", "position"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "node_id"], name="one_step_per_node")
        ]

    def __str__(self) -> str:
        return f"{self.node_id} {self.status}"

    @property
    def total_cost(self):
        return self.agent_cost + self.token_cost


class Report(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey(
        PipelineExecution, on_delete=models.CASCADE, related_name="reports"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="reports")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports"
    )
    report_type = models.CharField(max_length=30, default="execution")
    title = models.CharField(max_length=255)
    summary = models.TextField()
    full_report = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.title


class PipelineModeChange(models.Model):
    """Audit of every trading-mode switch (spec §12.4)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="mode_changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_mode = models.CharField(max_length=12, choices=TradingMode.choices)
    to_mode = models.CharField(max_length=12, choices=TradingMode.choices)
    confirmed = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.pipeline_id}: {self.from_mode} → {self.to_mode}"


class PipelineDailyStats(models.Model):
    """Per pipeline per trading day: the counters daily limits are checked against (§8.7)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="daily_stats")
    date = models.DateField()
    executions_count = models.PositiveIntegerField(default=0)
    trades_count = models.PositiveIntegerField(default=0)
    daily_pnl = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    peak_pnl = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    limit_hit = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "date"], name="one_stats_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_id} {self.date}"


class BacktestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Backtest(models.Model):
    """A pipeline replayed over a dataset: the settings it ran with, its progress, and its
    results (closed trades as BacktestTrade rows, the equity series and the metrics)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="backtests")
    dataset = models.ForeignKey(
        "trading.Dataset", on_delete=models.CASCADE, related_name="backtests"
    )
    sweep = models.ForeignKey(
        "BacktestSweep", null=True, blank=True, on_delete=models.CASCADE, related_name="backtests"
    )
    status = models.CharField(
        max_length=10, choices=BacktestStatus.choices, default=BacktestStatus.PENDING
    )
    # The graph as it was when the backtest started (the pipeline may change later), the
    # parameter overrides of a sweep, and range/capital/costs.
    graph = models.JSONField(default=dict)
    parameters = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    initial_cash = models.DecimalField(max_digits=16, decimal_places=2)
    commission_pct = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    commission_per_share = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    slippage_pct = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    fill_at = models.CharField(max_length=10, default="next_open")
    side = models.CharField(max_length=5, default="long")  # long | short | both (reversing)
    bars_total = models.PositiveIntegerField(default=0)
    bars_done = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    final_equity = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    net_pnl = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    trades_count = models.PositiveIntegerField(default=0)
    # LLM engines (the News Trigger's): the trader's hard cap (None: the replay cache only),
    # the estimate shown before the start, and what the run spent.
    llm_budget = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    llm_estimate = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    llm_cost = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    # [[epoch seconds, equity], …] at most a few thousand points (the last one exact).
    equity = models.JSONField(default=list, blank=True)
    # [[ISO day, equity], …]: the equity at every day's last bar (analytics' daily returns).
    daily_equity = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pipeline", "-created_at"])]

    def __str__(self) -> str:
        return f"Backtest {self.id} ({self.status})"

    @property
    def progress_pct(self) -> int:
        return int(100 * self.bars_done / self.bars_total) if self.bars_total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (
            BacktestStatus.COMPLETED,
            BacktestStatus.FAILED,
            BacktestStatus.CANCELLED,
        )


class BacktestTrade(models.Model):
    """One trade of a backtest: entry and exit (bar and time), size, prices, costs, P&L; a
    position still open at the end has no exit and is marked to the last close."""

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="trades")
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=5)
    quantity = models.PositiveIntegerField()
    entry_bar = models.PositiveIntegerField()
    entry_at = models.DateTimeField()
    entry_price = models.DecimalField(max_digits=16, decimal_places=4)
    stop_loss = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    target_1 = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    target_2 = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    exit_bar = models.PositiveIntegerField(null=True, blank=True)
    exit_at = models.DateTimeField(null=True, blank=True)
    exit_price = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    partial_exit_quantity = models.PositiveIntegerField(default=0)
    partial_exit_price = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    commission = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    net_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    close_reason = models.CharField(max_length=20, blank=True)
    is_open = models.BooleanField(default=False)
    # Why it was entered: the trigger, the bias's reading, the strategy's levels (a live trade's
    # run report says the same), written by pipelines.backtest.reasoning.
    reasoning = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["entry_bar"]
        # The trades table's order and its keyset pages (pipelines.backtest.selectors).
        indexes = [
            models.Index(fields=["backtest", "entry_bar", "id"], name="backtest_trade_entry_order")
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.entry_price}"


class BacktestSweep(models.Model):
    """A grid of parameter values over one pipeline and dataset, run as Celery chunks."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtest_sweeps"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="sweeps")
    dataset = models.ForeignKey("trading.Dataset", on_delete=models.CASCADE, related_name="+")
    # {"node_id.field": [values, …], …}; the combinations are their cartesian product.
    grid = models.JSONField(default=dict)
    settings = models.JSONField(default=dict)
    combinations = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=BacktestStatus.choices, default=BacktestStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Sweep {self.id} ({self.combinations} combinations)"


class BacktestWalkForward(models.Model):
    """Walk-forward analysis of a pipeline over a dataset: the grid optimised in each rolling
    in-sample window, its winner traded on the next out-of-sample window; only the
    out-of-sample results are kept, with how many combinations were tried."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="walkforwards"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="walkforwards")
    dataset = models.ForeignKey("trading.Dataset", on_delete=models.CASCADE, related_name="+")
    grid = models.JSONField(default=dict)
    # The backtest settings every run uses (range, capital, costs, fills, direction).
    settings = models.JSONField(default=dict)
    in_sample_bars = models.PositiveIntegerField()
    out_of_sample_bars = models.PositiveIntegerField()
    combinations = models.PositiveIntegerField(default=0)
    windows_total = models.PositiveIntegerField(default=0)
    windows_done = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=BacktestStatus.choices, default=BacktestStatus.PENDING
    )
    cancel_requested = models.BooleanField(default=False)
    # [{in_sample: [start, end], out_of_sample: [...], from/to dates, parameters, returns…}]
    windows = models.JSONField(default=list, blank=True)
    out_of_sample_return_pct = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Walk-forward {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (
            BacktestStatus.COMPLETED,
            BacktestStatus.FAILED,
            BacktestStatus.CANCELLED,
        )

    @property
    def progress_pct(self) -> int:
        return int(100 * self.windows_done / self.windows_total) if self.windows_total else 0
