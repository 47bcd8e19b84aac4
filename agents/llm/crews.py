"""The crews — bias, strategy, news sentiment, reporting: prompt data, checks, state objects.

Bias: market analyst, sentiment analyst, synthesizer. Strategy: pattern, entry, risk (stop) and
target analysts. News sentiment: one analyst scoring headlines. Reporting: one report writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents.llm.answers import (
    BiasAnswer,
    EntryAnswer,
    HeadlineScores,
    MarketRead,
    PatternRead,
    ReportSummary,
    SentimentRead,
    StopAnswer,
    StrategyAnswer,
)
from agents.llm.client import LLMClient
from agents.llm.config import llm_settings
from agents.llm.crew_runtime import Member, run_crew
from agents.llm.validation import (
    MAX_ENTRY_DISTANCE_ATR,
    MAX_ENTRY_DISTANCE_PCT,
    check_entry,
    check_headline_scores,
    check_plan,
    check_stop,
    plan_levels,
)
from agents.metering import CostMeter
from agents.state import BiasSignal, BiasType, MarketData, StrategySignal, TimeframeData, TradeSide
from trading.marketdata.base import Headline
from trading.marketdata.news import score_headline_sentiment

# Candles of the trading timeframe shown to the pattern analyst (enough for structure, few
# enough to keep the prompt to a couple of thousand tokens).
PROMPT_CANDLES = 30
PROMPT_HEADLINES = 10
# Headlines scored per call by the news-sentiment crew.
HEADLINES_PER_CALL = 25


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    number = float(value)
    if abs(number) >= 10_000:
        return f"{number:,.0f}"
    if abs(number) >= 1:
        return f"{number:.2f}"
    return f"{number:.4f}"


def _indicators(frame: TimeframeData, *, with_previous: bool) -> str:
    parts = []
    for key in sorted(frame.indicators):
        value = frame.indicators[key]
        if value is None:
            continue
        text = f"{key} {_number(value)}"
        previous = frame.previous_indicators.get(key)
        if with_previous and previous is not None:
            text += f" (prev {_number(previous)})"
        parts.append(text)
    return "; ".join(parts) or "none computed"


# --- Bias ------------------------------------------------------------------------------------


def _rule_score(headline: Headline) -> float:
    return score_headline_sentiment(f"{headline.headline} {headline.summary}")


def _reading_line(breakdown: dict[str, Any]) -> str:
    factors = [factor.split(": ", 1)[-1] for factor in breakdown.get("factors", [])]
    return f"{breakdown.get('direction', 'neutral')} (score {breakdown.get('score', 0):+.2f}); " + (
        ", ".join(factors) or "no factors"
    )


def _price_context(market: MarketData, frames: list[TimeframeData]) -> str:
    parts = [f"last price {_number(market.current_price)}"]
    frame = frames[0] if frames else None
    if frame is not None:
        close = frame.ohlcv.get("close")
        vwap = frame.indicators.get("vwap")
        volume = frame.ohlcv.get("volume")
        average = frame.indicators.get("avg_volume_20")
        parts.append(f"on {frame.timeframe}: close {_number(close)}")
        if vwap is not None:
            parts.append(f"VWAP {_number(vwap)}")
        if volume is not None and average:
            parts.append(f"volume {_number(volume)} vs 20-bar average {_number(average)}")
    return ", ".join(parts)


def llm_bias(
    client: LLMClient,
    *,
    symbol: str,
    market: MarketData,
    frames: list[TimeframeData],
    breakdown: dict[str, dict[str, Any]],
    headlines: Sequence[Headline],
    model: str,
    now: datetime,
    news_hours: int = 24,
) -> BiasSignal:
    """The bias crew's BiasSignal for one symbol. `breakdown` is the rules engine's reading of
    each timeframe (it is shown to the crew and kept in the signal beside the crew's reading)."""
    answers = run_crew(
        client,
        members=[
            Member("market_analyst", "bias_market_analyst.txt", MarketRead),
            Member("sentiment_analyst", "bias_sentiment_analyst.txt", SentimentRead),
            Member(
                "bias_synthesizer",
                "bias_synthesizer.txt",
                BiasAnswer,
                reads=("market_analyst", "sentiment_analyst"),
            ),
        ],
        data=_bias_prompt_data(symbol, market, frames, breakdown, headlines, news_hours),
        model=model,
        temperature=None,
        what=f"Bias crew for {symbol}",
    )
    bias: BiasAnswer = answers["bias_synthesizer"]
    market_read: MarketRead = answers["market_analyst"]
    sentiment_read: SentimentRead = answers["sentiment_analyst"]
    return BiasSignal(
        symbol=symbol,
        bias=BiasType(bias.bias),
        confidence=round(bias.confidence, 1),
        # A neutral bias has no side to score (as in the rules engine).
        bias_score=0.0 if bias.bias == "neutral" else round(bias.bias_score, 3),
        reasoning=bias.reasoning,
        factors=list(bias.factors),
        timeframe_breakdown={
            **breakdown,
            "crew": {
                "model": model,
                "market_analyst": market_read.model_dump(),
                "sentiment_analyst": sentiment_read.model_dump(),
            },
        },
        engine="llm",
        timestamp=now,
    )


def _bias_prompt_data(
    symbol: str,
    market: MarketData,
    frames: list[TimeframeData],
    breakdown: dict[str, dict[str, Any]],
    headlines: Sequence[Headline],
    news_hours: int,
) -> dict[str, Any]:
    """What the bias crew's prompts are filled with: each timeframe, the rules' reading and
    the newest headlines."""
    newest = sorted(headlines, key=lambda h: (h.published_at, h.headline), reverse=True)
    return {
        "symbol": symbol,
        "price": _number(market.current_price),
        "as_of": market.timestamp.isoformat(),
        "frames": [
            {
                "timeframe": frame.timeframe,
                "weight": breakdown.get(frame.timeframe, {}).get("weight", 1.0),
                "values": f"close {_number(frame.ohlcv.get('close'))}; "
                + _indicators(frame, with_previous=True),
                "reading": _reading_line(breakdown.get(frame.timeframe, {})),
            }
            for frame in frames
        ],
        "headlines": [
            {
                "when": f"{headline.published_at:%Y-%m-%d %H:%M} UTC",
                "score": f"{_rule_score(headline):+.2f}",
                "text": headline.headline,
            }
            for headline in newest[:PROMPT_HEADLINES]
        ],
        "news_hours": news_hours,
        "price_context": _price_context(market, frames),
        "rules_summary": "; ".join(
            f"{timeframe} {reading.get('direction')} ({reading.get('score', 0):+.2f})"
            for timeframe, reading in breakdown.items()
        )
        or "no reading",
    }


# --- Strategy --------------------------------------------------------------------------------


class HoldAdvice(Exception):
    """The crew advises no trade; the message is its reasoning."""


@dataclass(frozen=True)
class StrategyBrief:
    """What the strategy crew is told besides the chart: the config's rules for the plan."""

    risk_reward_min: float
    target_1_r: float
    target_2_r: float
    stop_method: str
    atr_multiplier: float
    swing_lookback: int
    temperature: float


def _stop_guidance(brief: StrategyBrief) -> str:
    if brief.stop_method == "swing":
        return (
            f"The desk places stops at the swing low (buy) or high (sell) of the last "
            f"{brief.swing_lookback} bars; deviate only with a reason."
        )
    return (
        f"The desk's stops are about {brief.atr_multiplier:g} x ATR(14) from the entry; deviate "
        "only for a clear support or resistance level."
    )


def llm_strategy(
    client: LLMClient,
    *,
    symbol: str,
    bias: BiasSignal,
    frame: TimeframeData,
    swing_highs: list[float],
    swing_lows: list[float],
    brief: StrategyBrief,
    model: str,
    now: datetime,
) -> StrategySignal:
    """The strategy crew's StrategySignal for one symbol, or HoldAdvice when it advises none."""
    side = "buy" if bias.bias == BiasType.BULLISH else "sell"
    close = float(frame.ohlcv["close"])
    atr = frame.indicators.get("atr_14")
    atr = float(atr) if atr else None
    answers = run_crew(
        client,
        members=_strategy_members(side=side, close=close, atr=atr, brief=brief),
        data={
            "symbol": symbol,
            "side": side,
            "bias": bias.bias.value,
            "bias_confidence": f"{bias.confidence:.0f}",
            "bias_reasoning": bias.reasoning,
            **_strategy_chart_data(frame, close, atr, swing_highs, swing_lows),
            "stop_guidance": _stop_guidance(brief),
            "target_1_r": f"{brief.target_1_r:g}",
            "target_2_r": f"{brief.target_2_r:g}",
            "risk_reward_min": f"{brief.risk_reward_min:g}",
        },
        model=model,
        temperature=brief.temperature,
        what=f"Strategy crew for {symbol}",
    )
    plan: StrategyAnswer = answers["target_analyst"]
    if plan.action == "hold":
        raise HoldAdvice(plan.reasoning)
    return _strategy_signal(symbol, plan, answers["pattern_analyst"], frame, now)


def _strategy_chart_data(
    frame: TimeframeData,
    close: float,
    atr: float | None,
    swing_highs: list[float],
    swing_lows: list[float],
) -> dict[str, Any]:
    """The chart part of the strategy prompts: price, ATR, indicators, swings and candles."""
    entry_limit = (
        f"{MAX_ENTRY_DISTANCE_ATR:g} x ATR ({_number(MAX_ENTRY_DISTANCE_ATR * atr)})"
        if atr
        else f"{MAX_ENTRY_DISTANCE_PCT:g}% of the price"
    )
    candles = frame.candles[-PROMPT_CANDLES:]
    return {
        "timeframe": frame.timeframe,
        "close": _number(close),
        "atr": _number(atr),
        "entry_limit": entry_limit,
        "indicators": _indicators(frame, with_previous=False),
        "swing_highs": ", ".join(_number(p) for p in swing_highs[-6:]) or "none",
        "swing_lows": ", ".join(_number(p) for p in swing_lows[-6:]) or "none",
        "candle_count": len(candles),
        "candles": [
            f"{c['t'][:16]} {_number(c['o'])} {_number(c['h'])} {_number(c['l'])} "
            f"{_number(c['c'])} {_number(c['v'])}"
            for c in candles
        ],
    }


def _strategy_members(
    *, side: str, close: float, atr: float | None, brief: StrategyBrief
) -> list[Member]:
    """Pattern, entry, risk (stop) and target analysts, each answer checked against the chart."""
    return [
        Member("pattern_analyst", "strategy_pattern_analyst.txt", PatternRead),
        Member(
            "entry_analyst",
            "strategy_entry_analyst.txt",
            EntryAnswer,
            reads=("pattern_analyst",),
            check=lambda answer, _: check_entry(answer, side=side, close=close, atr=atr),
        ),
        Member(
            "risk_analyst",
            "strategy_risk_analyst.txt",
            StopAnswer,
            reads=("pattern_analyst", "entry_analyst"),
            check=lambda answer, earlier: check_stop(answer, entry=earlier.get("entry_analyst")),
        ),
        Member(
            "target_analyst",
            "strategy_target_analyst.txt",
            StrategyAnswer,
            reads=("pattern_analyst", "entry_analyst", "risk_analyst"),
            check=lambda answer, _: check_plan(
                answer,
                side=side,
                close=close,
                atr=atr,
                risk_reward_min=brief.risk_reward_min,
            ),
        ),
    ]


def _strategy_signal(
    symbol: str, plan: StrategyAnswer, pattern: PatternRead, frame: TimeframeData, now: datetime
) -> StrategySignal:
    """The signal from the target analyst's checked plan and the pattern analyst's read."""
    levels = plan_levels(plan)
    return StrategySignal(
        symbol=symbol,
        action=TradeSide(plan.action),
        conviction=round(plan.conviction, 1),
        entry_price=levels.entry,
        stop_loss=levels.stop_loss,
        target_1=levels.target_1,
        target_2=levels.target_2,
        risk_reward_ratio=levels.risk_reward,
        reasoning=plan.reasoning,
        level_reasoning={
            "entry": plan.entry_reasoning,
            "stop_loss": plan.stop_loss_reasoning,
            "target_1": plan.target_1_reasoning,
            "target_2": plan.target_2_reasoning or plan.target_1_reasoning,
            "pattern": pattern.summary,
        },
        technical_factors=list(dict.fromkeys([*plan.technical_factors, *pattern.patterns]))[:12],
        timeframe=frame.timeframe,
        engine="llm",
        timestamp=now,
    )


# --- News sentiment --------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadlineSentiment:
    sentiment: float  # -1 very negative … +1 very positive for the stock
    confidence: float  # 0 … 1


def headline_sentiments(
    client: LLMClient, headlines: Sequence[str], *, model: str
) -> list[HeadlineSentiment]:
    """Sentiment and confidence for each headline, in order (one call per 25 headlines)."""
    results: list[HeadlineSentiment] = []
    for start in range(0, len(headlines), HEADLINES_PER_CALL):
        batch = list(headlines[start : start + HEADLINES_PER_CALL])
        count = len(batch)
        answers = run_crew(
            client,
            members=[
                Member(
                    "news_analyst",
                    "news_sentiment.txt",
                    HeadlineScores,
                    check=lambda answer, _, count=count: check_headline_scores(answer, count=count),
                )
            ],
            data={"headlines": batch},
            model=model,
            temperature=None,
            what="News sentiment crew",
        )
        scores = {score.index: score for score in answers["news_analyst"].scores}
        results += [
            HeadlineSentiment(scores[index].sentiment, scores[index].confidence)
            for index in range(len(batch))
        ]
    return results


def news_sentiment(
    headlines: Sequence[str],
    *,
    model: str = "",
    meter: CostMeter | None = None,
    owner_id: str | None = None,
    replay: bool = True,
    agent_id: str = "news_sentiment",
) -> list[HeadlineSentiment] | None:
    """Sentiment and confidence per headline from the configured model, for callers outside a
    pipeline run (the news_sentiment signal generator); None when no model is configured, so
    the caller keeps its keyword rules. Pass a CostMeter to collect the calls (LLMCall) for
    the ledger, and a budget on it if there is one."""
    config = llm_settings()
    if not config.configured:
        return None
    client = LLMClient(
        config=config,
        meter=meter or CostMeter(),
        agent_id=agent_id,
        owner_id=owner_id,
        replay=replay,
    )
    return headline_sentiments(client, headlines, model=config.model_for("news", model))


# --- Reporting -------------------------------------------------------------------------------


def llm_report_summary(client: LLMClient, *, facts: dict[str, Any], model: str) -> ReportSummary:
    """The reporting crew's executive summary of a run, from the facts of its report."""
    answers = run_crew(
        client,
        members=[Member("report_writer", "report_summary.txt", ReportSummary)],
        data=facts,
        model=model,
        temperature=None,
        what="Reporting crew",
    )
    return answers["report_writer"]
