"""The trading ledger: orders, trades, positions, the simulated account, and the audit of manual
and end-of-day interventions.

Pipelines and executions are referenced by id rather than foreign key: `trading` sits below
`pipelines`, and the ledger is a record that outlives the pipeline that traded.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class Mode(models.TextChoices):
    LIVE = "LIVE", "Live"
    PAPER = "PAPER", "Paper"
    SIMULATION = "SIMULATION", "Simulation"
    VALIDATION = "VALIDATION", "Validation"


class OrderSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderStatus(models.TextChoices):
    NEW = "new", "New (not sent yet)"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    VALIDATED = "validated", "Validated (not sent)"
    FAILED = "failed", "Failed"


OPEN_ORDER_STATUSES = [
    OrderStatus.NEW,
    OrderStatus.SUBMITTED,
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
]


class OrderLeg(models.TextChoices):
    ENTRY = "entry", "Entry"
    STOP = "stop", "Stop loss"
    TARGET_1 = "target_1", "Target 1"
    TARGET_2 = "target_2", "Target 2"
    EXIT = "exit", "Exit"


class Order(models.Model):
    """One order. The row is written *before* the broker is called, under a client_order_id
    derived from (execution, node, symbol, leg), so a retry finds it instead of sending twice."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    trading_mode = models.CharField(max_length=12, choices=Mode.choices)
    client_order_id = models.CharField(max_length=48, unique=True)
    broker_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    pipeline_id = models.UUIDField(null=True, blank=True)
    execution_id = models.UUIDField(null=True, blank=True)
    node_id = models.CharField(max_length=100, blank=True)
    leg = models.CharField(max_length=10, choices=OrderLeg.choices, default=OrderLeg.ENTRY)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="legs"
    )
    symbol = models.CharField(max_length=12)
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    quantity = models.PositiveIntegerField()
    order_type = models.CharField(max_length=12, default="market")
    time_in_force = models.CharField(max_length=8, default="day")
    requested_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    limit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    stop_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)
    filled_quantity = models.PositiveIntegerField(default=0)
    filled_avg_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    commission = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    # Per share, signed so that positive is always worse for the trader.
    slippage = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    error = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["execution_id"]),
            # Accepted, unfilled orders by pipeline: simulated entries queued for the next open
            # (an on-signal pipeline waits for them, the monitor's sweep fills them).
            models.Index(
                fields=["pipeline_id"],
                condition=Q(status="accepted"),
                name="trading_order_accepted_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} ({self.status})"


class PositionSide(models.TextChoices):
    LONG = "long", "Long"
    SHORT = "short", "Short"


class TradeStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    REJECTED = "rejected", "Rejected"


class CloseReason(models.TextChoices):
    STOP_HIT = "stop_hit", "Stop loss hit"
    TARGET_1_HIT = "target_1_hit", "Target 1 hit"
    TARGET_2_HIT = "target_2_hit", "Target 2 hit"
    MANUAL = "manual", "Closed by hand"
    EMERGENCY_ALL = "emergency_close_all", "Close-all"
    END_OF_DAY = "end_of_day", "End-of-day flatten"
    EXIT_CONDITION = "exit_condition", "Exit condition met"
    BUDGET = "budget_exhausted", "Budget exhausted"
    BROKER = "broker", "Closed at the broker"


class Trade(models.Model):
    """A round trip: the entry a pipeline made and every exit until the position is flat."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trades"
    )
    trading_mode = models.CharField(max_length=12, choices=Mode.choices)
    pipeline_id = models.UUIDField(null=True, blank=True)
    execution_id = models.UUIDField(null=True, blank=True)
    entry_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="trades"
    )
    symbol = models.CharField(max_length=12)
    side = models.CharField(max_length=5, choices=PositionSide.choices)
    quantity = models.PositiveIntegerField(help_text="Shares filled at entry.")
    remaining_quantity = models.PositiveIntegerField()
    requested_entry_price = models.DecimalField(max_digits=14, decimal_places=4)
    entry_price = models.DecimalField(max_digits=14, decimal_places=4)
    stop_loss = models.DecimalField(max_digits=14, decimal_places=4)
    initial_stop_loss = models.DecimalField(max_digits=14, decimal_places=4)
    target_1 = models.DecimalField(max_digits=14, decimal_places=4)
    target_2 = models.DecimalField(max_digits=14, decimal_places=4)
    partial_exit_quantity = models.PositiveIntegerField(default=0)
    partial_exit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    partial_exit_at = models.DateTimeField(null=True, blank=True)
    exit_price = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="Average of all exits."
    )
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    status = models.CharField(max_length=10, choices=TradeStatus.choices, default=TradeStatus.OPEN)
    # Realized P&L has one definition (trading.services.position_reduce): for the shares exited,
    # (exit − entry) × shares × direction − their share of the entry commission − the exit
    # commission. Nothing is realized until a share is exited, so an open trade shows no figure.
    realized_pnl = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Net of both commissions, for the shares exited so far.",
    )
    commission = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal("0"), help_text="Entry and exits."
    )
    entry_commission = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=Decimal("0"),
        help_text="Commission paid on the entry; charged to realized P&L share by share on exit.",
    )
    slippage_cost = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0"))
    monitoring_active = models.BooleanField(default=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["owner", "-opened_at"]),
            models.Index(fields=["owner", "symbol"]),
            models.Index(fields=["pipeline_id", "-opened_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.entry_price} ({self.status})"


class PositionStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Position(models.Model):
    """What a user holds in one symbol in one trading mode (the broker mirrors it in paper/live)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="positions"
    )
    trading_mode = models.CharField(max_length=12, choices=Mode.choices)
    symbol = models.CharField(max_length=12)
    side = models.CharField(max_length=5, choices=PositionSide.choices)
    quantity = models.PositiveIntegerField()
    average_price = models.DecimalField(max_digits=14, decimal_places=4)
    current_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unrealized_pnl = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    stop_loss = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    target_1 = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    target_2 = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    target_1_hit = models.BooleanField(default=False)
    move_stop_to_breakeven = models.BooleanField(default=True)
    partial_exit_pct = models.PositiveSmallIntegerField(default=50)
    # Simulation only: how exits are filled (slippage_pct, commission_per_share, seed), copied
    # from the opening pipeline's mode_config.
    fill_costs = models.JSONField(default=dict, blank=True)
    # The trade manager's exit conditions ({"conditions": [...], "logic": "OR"}), checked by the
    # position monitor on every sweep besides the stop and targets.
    exit_rules = models.JSONField(default=dict, blank=True)
    monitoring = models.BooleanField(default=True)
    status = models.CharField(
        max_length=6, choices=PositionStatus.choices, default=PositionStatus.OPEN
    )
    pipeline_id = models.UUIDField(null=True, blank=True)
    execution_id = models.UUIDField(null=True, blank=True)
    trade = models.ForeignKey(
        Trade, null=True, blank=True, on_delete=models.SET_NULL, related_name="positions"
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    price_updated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "symbol", "trading_mode"],
                condition=Q(status="open"),
                name="one_open_position_per_symbol_and_mode",
            )
        ]
        indexes = [
            models.Index(fields=["status", "monitoring"], name="monitored_positions"),
            models.Index(fields=["owner", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} [{self.trading_mode}]"

    @property
    def market_value(self) -> Decimal:
        price = self.current_price if self.current_price is not None else self.average_price
        return price * self.quantity


class SimulatedAccount(models.Model):
    """A user's simulated brokerage account: cash moves with every simulated fill."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="simulated_account"
    )
    initial_balance = models.DecimalField(max_digits=16, decimal_places=2)
    cash = models.DecimalField(max_digits=16, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"simulated account of {self.owner_id}: cash {self.cash}"


class ManualIntervention(models.Model):
    """Audit of a human (or the budget guard) overriding the agents: emergency closes."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interventions"
    )
    trading_mode = models.CharField(max_length=12, choices=Mode.choices, blank=True)
    symbol = models.CharField(max_length=12, blank=True)
    action = models.CharField(max_length=30)
    reason = models.TextField(blank=True)
    positions_affected = models.PositiveIntegerField(default=1)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.symbol or 'all'}"


class EODAction(models.Model):
    """What end-of-day handling did for a pipeline (spec §8.5, §8.7)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eod_actions"
    )
    pipeline_id = models.UUIDField()
    action_date = models.DateField()
    action_time = models.TimeField()
    positions_closed = models.PositiveIntegerField(default=0)
    total_pnl = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    pipeline_stopped = models.BooleanField(default=False)
    failed_symbols = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pipeline_id", "-action_date"])]

    def __str__(self) -> str:
        return f"EOD {self.pipeline_id} {self.action_date}"


class DatasetSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded CSV"
    SYNTHETIC = "synthetic", "Synthetic provider"
    ALPACA = "alpaca", "Alpaca historical bars"


class Dataset(models.Model):
    """History for backtests: one symbol × timeframe of OHLCV bars, stored as packed arrays.

    One little-endian float64 array per column (int64 for the bar open times, epoch seconds
    UTC) in a bytea, not a row per bar. Measured on 500,000 one-minute bars (2026-12-02, load
    ~8 on the shared 2-core VM): the arrays take 19.2 MB and read back into numpy in 0.5 s; a
    bars table (timestamptz + five float8, primary key on dataset and time) takes 67.3 MB and
    reading its rows takes 10 s. Backtests always read a dataset whole.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets"
    )
    name = models.CharField(max_length=120)
    symbol = models.CharField(max_length=16)
    timeframe = models.CharField(max_length=4)
    source = models.CharField(max_length=10, choices=DatasetSource.choices)
    source_time_zone = models.CharField(max_length=64, default="UTC")
    bar_count = models.PositiveIntegerField(default=0)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    open_seconds = models.BinaryField(default=bytes)
    open = models.BinaryField(default=bytes)
    high = models.BinaryField(default=bytes)
    low = models.BinaryField(default=bytes)
    close = models.BinaryField(default=bytes)
    volume = models.BinaryField(default=bytes)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe} ({self.bar_count} bars)"
