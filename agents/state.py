"""PipelineState: everything agents pass along a run (the multi-symbol form of the spec's §11.2).

Agents read and write only the state; the engine persists it (as JSON) after every step, so each
field must round-trip through `model_dump(mode="json")` / `model_validate`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="null")


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"


class BiasType(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class TriggerResult(_Model):
    agent_id: str
    agent_type: str
    met: bool
    condition: str
    details: dict[str, Any] = Field(default_factory=dict)
    checked_at: datetime = Field(default_factory=utcnow)


class TimeframeData(_Model):
    """One symbol on one timeframe: the last closed bar, indicator values and recent candles."""

    timeframe: str
    ohlcv: dict[str, float] = Field(default_factory=dict)
    indicators: dict[str, float | None] = Field(default_factory=dict)
    previous_indicators: dict[str, float | None] = Field(default_factory=dict)
    # Recent candles, oldest first: {"t": iso time, "o", "h", "l", "c", "v"}.
    candles: list[dict[str, Any]] = Field(default_factory=list)
    bar_count: int = 0


class MarketData(_Model):
    symbol: str
    current_price: float
    bid: float
    ask: float
    volume: int
    timestamp: datetime
    timeframes: dict[str, TimeframeData] = Field(default_factory=dict)

    def timeframe(self, timeframe: str) -> TimeframeData | None:
        return self.timeframes.get(timeframe)


class BiasSignal(_Model):
    symbol: str
    bias: BiasType
    confidence: float = Field(ge=0, le=100)
    # 0..1: how strongly the evidence points one way (used by min_bias_score filters).
    bias_score: float = Field(ge=0, le=1)
    reasoning: str
    factors: list[str] = Field(default_factory=list)
    timeframe_breakdown: dict[str, dict[str, Any]] = Field(default_factory=dict)
    engine: str = "rules"
    timestamp: datetime = Field(default_factory=utcnow)


class StrategySignal(_Model):
    symbol: str
    action: TradeSide
    conviction: float = Field(ge=0, le=100)
    entry_price: float
    stop_loss: float
    target_1: float
    target_2: float
    risk_reward_ratio: float
    reasoning: str
    # Why each level is where it is: {"entry": ..., "stop_loss": ..., "target_1": ..., ...}
    level_reasoning: dict[str, str] = Field(default_factory=dict)
    technical_factors: list[str] = Field(default_factory=list)
    timeframe: str = "5m"
    engine: str = "rules"
    timestamp: datetime = Field(default_factory=utcnow)

    @property
    def risk_per_share(self) -> float:
        return abs(self.entry_price - self.stop_loss)


class RiskCheck(_Model):
    name: str
    passed: bool
    detail: str


class RiskDecision(_Model):
    symbol: str
    approved: bool
    adjusted: bool = False
    position_size: int = 0
    account_equity: Decimal = Decimal("0")
    account_risk_pct: float = 0.0
    position_risk_amount: Decimal = Decimal("0")
    position_value: Decimal = Decimal("0")
    adjustments_made: str | None = None
    rejection_reason: str | None = None
    reasoning: str = ""
    checks: list[RiskCheck] = Field(default_factory=list)
    timestamp: datetime = Field(default_factory=utcnow)


class IntendedOrder(_Model):
    """The bracket order a trade manager would place (or placed): entry plus stop and targets."""

    symbol: str
    side: TradeSide
    quantity: int
    order_type: str = "market"
    entry_price: Decimal
    stop_loss: Decimal
    target_1: Decimal
    target_2: Decimal
    client_order_id: str
    trading_mode: str
    time_in_force: str = "day"
    submitted: bool = False
    # What became of it: filled | partially_filled | queued | accepted | rejected | not_placed |
    # recorded ("" in states written before it was kept).
    outcome: str = ""
    note: str = ""

    def outcome_label(self) -> str:
        """What happened to the order, in a step summary's words ("rejected", not "sent")."""
        labels = {
            "filled": "filled",
            "partially_filled": "partly filled",
            "queued": "queued for the next open",
            "accepted": "sent, not filled yet",
            "rejected": "rejected",
            "not_placed": "not placed",
            "recorded": "recorded",
        }
        if self.outcome in labels:
            return labels[self.outcome]
        return "sent" if self.submitted else "recorded"


class TradeExecution(_Model):
    client_order_id: str
    broker_order_id: str = ""
    symbol: str
    action: TradeSide
    quantity: int
    requested_price: Decimal
    filled_price: Decimal | None = None
    filled_quantity: int = 0
    slippage: Decimal = Decimal("0")
    commission: Decimal = Decimal("0")
    status: str
    trading_mode: str
    timestamp: datetime = Field(default_factory=utcnow)


class StateMessage(_Model):
    agent_id: str
    message: str
    symbol: str | None = None


class AgentCost(_Model):
    agent_id: str
    agent_type: str
    runtime_seconds: float
    agent_cost: Decimal
    tokens_in: int = 0
    tokens_out: int = 0
    token_cost: Decimal = Decimal("0")

    @property
    def total(self) -> Decimal:
        return self.agent_cost + self.token_cost


class PipelineState(_Model):
    pipeline_id: str
    execution_id: str
    user_id: str
    trading_mode: str = "SIMULATION"
    primary_timeframe: str = "5m"

    # Symbols still in play: set from the pipeline (or a stock picker), narrowed by agents.
    symbols: list[str] = Field(default_factory=list)
    stock_picker_output: dict[str, Any] | None = None

    trigger: TriggerResult | None = None
    market_data: dict[str, MarketData] = Field(default_factory=dict)
    bias_results: dict[str, BiasSignal] = Field(default_factory=dict)
    strategy_signals: dict[str, StrategySignal] = Field(default_factory=dict)
    risk_approvals: dict[str, RiskDecision] = Field(default_factory=dict)
    intended_orders: dict[str, IntendedOrder] = Field(default_factory=dict)
    trades: list[TradeExecution] = Field(default_factory=list)
    reports: dict[str, dict[str, Any]] = Field(default_factory=dict)

    budget: dict[str, Any] = Field(default_factory=dict)
    errors: list[StateMessage] = Field(default_factory=list)
    warnings: list[StateMessage] = Field(default_factory=list)
    agent_costs: list[AgentCost] = Field(default_factory=list)
    total_cost: Decimal = Decimal("0")
    metadata: dict[str, Any] = Field(default_factory=dict)

    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def add_error(self, agent_id: str, message: str, symbol: str | None = None) -> None:
        self.errors.append(StateMessage(agent_id=agent_id, message=message, symbol=symbol))

    def add_warning(self, agent_id: str, message: str, symbol: str | None = None) -> None:
        self.warnings.append(StateMessage(agent_id=agent_id, message=message, symbol=symbol))

    def drop_symbol(self, symbol: str) -> None:
        self.symbols = [s for s in self.symbols if s != symbol]
