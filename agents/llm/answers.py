"""The JSON answers each crew member gives (CrewAI's `output_pydantic`), as pydantic models.

They are what the model is asked to fill in — not the state's BiasSignal / StrategySignal,
whose symbol, engine and timestamp are ours to set, not the model's. CrewAI puts each model's
JSON schema, docstring included, in the prompt: the docstrings speak to the model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["bullish", "bearish", "neutral"]
Action = Literal["buy", "sell", "hold"]


class Answer(BaseModel):
    # NaN and infinity are not numbers a trader can act on; extra keys are ignored.
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")


# --- Bias crew -------------------------------------------------------------------------------


class MarketRead(Answer):
    """Your reading of trend and momentum across the timeframes."""

    direction: Direction
    strength: float = Field(ge=0, le=100, description="How clear the trend is, 0-100.")
    factors: list[str] = Field(description="The readings behind it, most important first.")
    summary: str = Field(min_length=1)


class SentimentRead(Answer):
    """Your reading of the news and price context."""

    sentiment: float = Field(ge=-1, le=1, description="-1 very bearish … +1 very bullish.")
    confidence: float = Field(ge=0, le=100)
    factors: list[str]
    summary: str = Field(min_length=1)


class BiasAnswer(Answer):
    """The directional bias for today's trading."""

    bias: Direction
    confidence: float = Field(ge=0, le=100, description="Confidence in the bias, 0-100.")
    bias_score: float = Field(
        ge=0, le=1, description="Share of the weighted evidence on the bias's side, 0-1."
    )
    reasoning: str = Field(min_length=1)
    factors: list[str]


# --- Strategy crew ---------------------------------------------------------------------------


class PatternRead(Answer):
    """The chart structure on the trading timeframe."""

    patterns: list[str]
    support_levels: list[float]
    resistance_levels: list[float]
    summary: str = Field(min_length=1)


class EntryAnswer(Answer):
    """The side and entry price of the trade (action hold, without a price, for no trade)."""

    action: Action
    entry_price: float | None = Field(default=None, gt=0, description="Empty for hold.")
    reasoning: str = Field(min_length=1)


class StopAnswer(Answer):
    """The stop loss of the trade."""

    stop_loss: float = Field(gt=0)
    reasoning: str = Field(min_length=1)


class StrategyAnswer(Answer):
    """The complete trade plan (action hold, with only the reasoning, for no trade)."""

    action: Action
    conviction: float = Field(ge=0, le=100)
    # The levels and their reasoning may be left out only when the action is hold.
    entry_price: float | None = Field(default=None, gt=0)
    stop_loss: float | None = Field(default=None, gt=0)
    target_1: float | None = Field(default=None, gt=0)
    target_2: float | None = Field(default=None, gt=0)
    risk_reward_ratio: float | None = Field(
        default=None, description="Reward to target 1 over the risk."
    )
    reasoning: str = Field(min_length=1)
    entry_reasoning: str = ""
    stop_loss_reasoning: str = ""
    target_1_reasoning: str = ""
    target_2_reasoning: str = ""
    technical_factors: list[str] = Field(default_factory=list)


# --- News sentiment --------------------------------------------------------------------------


class HeadlineScore(Answer):
    """The sentiment of one headline, by its index."""

    index: int = Field(ge=0)
    sentiment: float = Field(ge=-1, le=1, description="-1 very negative … +1 very positive.")
    confidence: float = Field(ge=0, le=1)


class HeadlineScores(Answer):
    """One score per headline."""

    scores: list[HeadlineScore]


# --- Reporting -------------------------------------------------------------------------------


class ReportSummary(Answer):
    """The executive summary of the run."""

    headline: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=4000)
    key_points: list[str]
