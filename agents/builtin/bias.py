"""Bias agent: trend and momentum across timeframes read as a bullish, bearish or neutral bias."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import (
    engine_properties,
    llm_fell_back,
    no_symbols,
    pick_engine,
    timeframe_sort_key,
    timeframes_property,
    use_rules_after_llm_failure,
)
from agents.context import AgentContext
from agents.errors import InsufficientData
from agents.registry import register
from agents.state import BiasSignal, BiasType, PipelineState, TimeframeData
from trading.indicators import is_number
from trading.marketdata.base import Headline, MarketDataError

# Higher timeframes carry the trend, so they count for more in the aggregate.
TIMEFRAME_WEIGHTS = {"1m": 0.5, "5m": 0.75, "15m": 1.0, "1h": 1.5, "4h": 2.0, "1d": 3.0}
# An aggregate score within ±NEUTRAL_BAND reads as neutral.
NEUTRAL_BAND = 0.3
RSI_OVERBOUGHT, RSI_OVERSOLD = 70.0, 30.0
# Scales, in ATRs of the same timeframe, at which a reading counts fully (score ±1).
STACK_GAP_ATR = 0.5  # gap between neighbouring SMAs
SLOPE_ATR = 0.1  # EMA change per bar
HISTOGRAM_ATR = 0.1  # MACD histogram
HISTOGRAM_CHANGE_ATR = 0.05  # MACD histogram change per bar
# Readings weaker than this are described as "near", "flat", "neutral".
FAINT = 0.25
SMA_STACK = (("sma_20", "SMA20"), ("sma_50", "SMA50"), ("sma_200", "SMA200"))
# How far back the LLM engine's sentiment analyst reads headlines.
NEWS_HOURS = 24


@dataclass
class TimeframeReading:
    """One timeframe's evidence: weighted components in [-1, 1] and the factors behind them."""

    timeframe: str
    components: dict[str, tuple[float, float]] = field(default_factory=dict)  # name → (score, w)
    factors: list[str] = field(default_factory=list)

    def add(self, name: str, score: float, weight: float, factor: str | None) -> None:
        self.components[name] = (score, weight)
        if factor:
            self.factors.append(f"{self.timeframe}: {factor}")

    @property
    def score(self) -> float:
        total_weight = sum(weight for _, weight in self.components.values())
        if not total_weight:
            return 0.0
        return sum(score * weight for score, weight in self.components.values()) / total_weight

    def evidence(self) -> tuple[float, float]:
        """Bullish and bearish evidence, each as a share (0-1) of this timeframe's weight."""
        total_weight = sum(weight for _, weight in self.components.values())
        if not total_weight:
            return 0.0, 0.0
        bullish = sum(max(score, 0.0) * weight for score, weight in self.components.values())
        bearish = sum(max(-score, 0.0) * weight for score, weight in self.components.values())
        return bullish / total_weight, bearish / total_weight

    def as_dict(self, weight: float) -> dict[str, Any]:
        score = self.score
        return {
            "score": round(score, 3),
            "direction": _direction(score).value,
            "weight": weight,
            "components": {name: round(score, 3) for name, (score, _) in self.components.items()},
            "factors": self.factors,
        }


def _direction(score: float) -> BiasType:
    if score >= NEUTRAL_BAND:
        return BiasType.BULLISH
    if score <= -NEUTRAL_BAND:
        return BiasType.BEARISH
    return BiasType.NEUTRAL


def _value(values: dict[str, float | None], key: str) -> float | None:
    value = values.get(key)
    return float(value) if is_number(value) else None


def _clip(score: float) -> float:
    return max(-1.0, min(1.0, score))


def _word(score: float, up: str, down: str, level: str) -> str:
    """'above' / 'below' for a clear reading, `level` ('near', 'flat') for a faint one."""
    if score >= FAINT:
        return up
    if score <= -FAINT:
        return down
    return level


def read_timeframe(data: TimeframeData) -> TimeframeReading:
    """Score trend (price vs SMAs, SMA stack, EMA slope) and momentum (MACD, RSI) on a timeframe.

    Distances are measured in ATRs (1 % of price without ATR), so a close a few cents under a
    flat average reads as "near" it, not as a full bearish vote.
    """
    reading = TimeframeReading(data.timeframe)
    now, before = data.indicators, data.previous_indicators
    close = data.ohlcv.get("close")
    close = float(close) if is_number(close) and close > 0 else None
    atr = _value(now, "atr_14")
    unit = atr if atr and atr > 0 else (close * 0.01 if close else None)
    if unit is None:
        return reading

    for key, label, weight in (
        ("sma_20", "SMA20", 1.0),
        ("sma_50", "SMA50", 1.0),
        ("sma_200", "SMA200", 1.5),
    ):
        average = _value(now, key)
        if close is None or average is None:
            continue
        score = _clip((close - average) / unit)
        where = _word(score, "above", "below", "near")
        reading.add(f"close_vs_{key}", score, weight, f"close {where} {label}")

    averages = [(_value(now, k), label) for k, label in SMA_STACK]
    stack = [(value, label) for value, label in averages if value is not None]
    if len(stack) >= 2:
        gaps = [(a - b) / unit for (a, _), (b, _) in pairwise(stack)]
        labels = [label for _, label in stack]
        if all(gap > 0 for gap in gaps):
            score = min(1.0, min(gaps) / STACK_GAP_ATR)
            reading.add(
                "sma_alignment", score, 1.0, f"SMAs stacked bullishly ({' > '.join(labels)})"
            )
        elif all(gap < 0 for gap in gaps):
            score = max(-1.0, max(gaps) / STACK_GAP_ATR)
            reading.add(
                "sma_alignment", score, 1.0, f"SMAs stacked bearishly ({' < '.join(labels)})"
            )
        else:
            reading.add("sma_alignment", 0.0, 1.0, "SMAs tangled")

    for key, label in (("ema_20", "EMA20"), ("ema_9", "EMA9"), ("ema_50", "EMA50")):
        latest, previous = _value(now, key), _value(before, key)
        if latest is None or previous is None:
            continue
        score = _clip((latest - previous) / (SLOPE_ATR * unit))
        reading.add("ema_slope", score, 1.0, f"{label} {_word(score, 'rising', 'falling', 'flat')}")
        break

    histogram, previous_histogram = _value(now, "macd_hist"), _value(before, "macd_hist")
    if histogram is not None:
        score = _clip(histogram / (HISTOGRAM_ATR * unit))
        sign = _word(score, "positive", "negative", "near zero")
        reading.add("macd_histogram", score, 1.0, f"MACD histogram {sign}")
        if previous_histogram is not None:
            change = _clip((histogram - previous_histogram) / (HISTOGRAM_CHANGE_ATR * unit))
            if abs(change) >= FAINT:
                direction = "rising" if change > 0 else "falling"
                reading.add("macd_change", change, 0.5, f"MACD histogram {direction}")
            else:
                reading.add("macd_change", change, 0.5, None)

    rsi = _value(now, "rsi_14")
    if rsi is not None:
        if rsi >= RSI_OVERBOUGHT:
            reading.add("rsi", 0.5, 1.0, f"RSI {rsi:.0f} overbought (strong but stretched)")
        elif rsi <= RSI_OVERSOLD:
            reading.add("rsi", -0.5, 1.0, f"RSI {rsi:.0f} oversold (weak but stretched)")
        else:
            score = _clip((rsi - 50) / 15)
            regime = _word(score, "bullish", "bearish", "neutral")
            reading.add("rsi", score, 1.0, f"RSI {rsi:.0f} {regime}")
    return reading


@register
class BiasAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="bias_agent",
        name="Bias Agent",
        description=(
            "Decides whether each symbol is bullish, bearish or neutral from trend and momentum "
            "on several timeframes, with higher timeframes counting more. Symbols without a "
            "clear, confident bias go no further."
        ),
        category="analysis",
        icon="insights",
        pricing_rate=Decimal("0.08"),
        is_free=False,
        requires_timeframes=["1h", "4h", "1d"],
        engines=["rules", "llm"],
        config_schema={
            "type": "object",
            "title": "Bias agent",
            "description": "Multi-timeframe directional bias.",
            "properties": {
                "analysis_timeframes": timeframes_property(
                    "Analysis timeframes",
                    "Timeframes read for the bias; the market data agent fetches them.",
                    ["1h", "4h", "1d"],
                ),
                "confidence_threshold": {
                    "type": "number",
                    "title": "Minimum confidence (%)",
                    "description": "Symbols with a less confident bias are dropped.",
                    "minimum": 0,
                    "maximum": 100,
                    "default": 60,
                },
                "min_bias_score": {
                    "type": "number",
                    "title": "Minimum bias score",
                    "description": (
                        "0 to 1: the share of the weighted evidence that must point the bias's "
                        "way (0.6 = 60%)."
                    ),
                    "minimum": 0,
                    "maximum": 1,
                    "default": 0.6,
                },
                **engine_properties("reads the bias"),
            },
            "required": [],
            "additionalProperties": False,
        },
    )

    @classmethod
    def required_timeframes(cls, config: dict[str, Any]) -> set[str]:
        return set(config.get("analysis_timeframes") or cls.metadata.requires_timeframes)

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        timeframes = sorted(self.config["analysis_timeframes"], key=timeframe_sort_key)
        self._check_inputs(state, timeframes)
        engine = pick_engine(self.config, state, ctx, self.agent_id, self.metadata.name)
        now = ctx.clock.now()
        crew = _BiasCrew(self, state, ctx) if engine == "llm" else None
        unreadable: list[InsufficientData] = []
        symbol_count = len(state.symbols)
        for symbol in list(state.symbols):
            market = state.market_data[symbol]
            frames = [market.timeframes[tf] for tf in timeframes]
            try:
                # The rules reading comes first either way: it checks the indicators are
                # there before any token is spent, and the crew is shown it.
                signal = self._read(symbol, frames, "rules", now)
            except InsufficientData as error:
                unreadable.append(error)
                state.add_error(self.agent_id, str(error), symbol)
                state.drop_symbol(symbol)
                continue
            if crew is not None:
                signal = crew.read(symbol, frames, signal, now)
            state.bias_results[symbol] = signal
            reason = self._drop_reason(signal)
            if reason:
                state.add_warning(self.agent_id, f"{symbol} dropped: {reason}.", symbol)
                state.drop_symbol(symbol)
        if unreadable and len(unreadable) == symbol_count:
            raise unreadable[0]
        return state

    def _check_inputs(self, state: PipelineState, timeframes: list[str]) -> None:
        without_data = [symbol for symbol in state.symbols if symbol not in state.market_data]
        if without_data:
            raise InsufficientData(
                f"Bias agent needs market data for {', '.join(without_data)}; put a Market Data "
                "agent before it."
            )
        missing = sorted(
            {
                timeframe
                for symbol in state.symbols
                for timeframe in timeframes
                if timeframe not in state.market_data[symbol].timeframes
            },
            key=timeframe_sort_key,
        )
        if missing:
            raise InsufficientData(
                f"Bias agent needs market data for {', '.join(missing)}; add them to the Market "
                "Data agent's timeframes."
            )

    def _drop_reason(self, signal: BiasSignal) -> str | None:
        if signal.bias == BiasType.NEUTRAL:
            return "neutral bias, no clear direction"
        if signal.bias_score < self.config["min_bias_score"]:
            return (
                f"{signal.bias.value} bias score {signal.bias_score:.2f} is below "
                f"{self.config['min_bias_score']:g}"
            )
        if signal.confidence < self.config["confidence_threshold"]:
            return (
                f"{signal.bias.value} confidence {signal.confidence:.0f}% is below "
                f"{self.config['confidence_threshold']:g}%"
            )
        return None

    def _read(self, symbol: str, frames: list[TimeframeData], engine: str, now) -> BiasSignal:
        readings = [read_timeframe(frame) for frame in frames]
        if not any(reading.components for reading in readings):
            raise InsufficientData(
                f"Bias agent: no trend or momentum indicators for {symbol}; add SMA, EMA, MACD "
                "and RSI to the Market Data agent's indicators (or fetch more bars)."
            )
        weighted = [
            (reading, TIMEFRAME_WEIGHTS.get(reading.timeframe, 1.0))
            for reading in readings
            if reading.components
        ]
        total_weight = sum(weight for _, weight in weighted)
        score = sum(reading.score * weight for reading, weight in weighted) / total_weight
        bullish = sum(reading.evidence()[0] * weight for reading, weight in weighted)
        bearish = sum(reading.evidence()[1] * weight for reading, weight in weighted)
        bullish_share = bullish / (bullish + bearish) if bullish + bearish else 0.5
        bias = _direction(score)
        strength = min(abs(score), 1.0)
        if bias == BiasType.NEUTRAL:
            confidence = 50.0 * (1 - strength / NEUTRAL_BAND)
            bias_score = 0.0  # no side to score
        else:
            sign = 1 if bias == BiasType.BULLISH else -1
            agreeing = sum(weight for reading, weight in weighted if reading.score * sign > 0)
            agreement = agreeing / total_weight
            # Strength of the evidence counts most; timeframes agreeing adds the rest.
            confidence = 100.0 * (0.7 * strength + 0.3 * agreement)
            # The bias score is the share of the weighted evidence on the bias's side.
            bias_score = bullish_share if sign > 0 else 1 - bullish_share
        confidence = round(min(max(confidence, 0.0), 100.0), 1)
        factors = [factor for reading, _ in weighted for factor in reading.factors]
        return BiasSignal(
            symbol=symbol,
            bias=bias,
            confidence=confidence,
            bias_score=round(bias_score, 3),
            reasoning=self._reasoning(symbol, bias, confidence, bullish_share, weighted),
            factors=factors,
            timeframe_breakdown={
                reading.timeframe: reading.as_dict(weight) for reading, weight in weighted
            },
            engine=engine,
            timestamp=now,
        )

    @staticmethod
    def _reasoning(
        symbol: str,
        bias: BiasType,
        confidence: float,
        bullish_share: float,
        weighted: list[tuple[TimeframeReading, float]],
    ) -> str:
        by_direction: dict[BiasType, list[str]] = {}
        for reading, _ in weighted:
            by_direction.setdefault(_direction(reading.score), []).append(reading.timeframe)
        sentences = [
            f"{symbol} reads {bias.value} with {confidence:.0f}% confidence: "
            f"{bullish_share:.0%} of the weighted evidence is bullish, "
            f"{1 - bullish_share:.0%} bearish."
        ]
        for direction in (BiasType.BULLISH, BiasType.BEARISH, BiasType.NEUTRAL):
            frames = by_direction.get(direction)
            if frames:
                verb = "is" if len(frames) == 1 else "are"
                listed = " and ".join(
                    [", ".join(frames[:-1]), frames[-1]] if len(frames) > 1 else frames
                )
                sentences.append(f"{listed} {verb} {direction.value}.")
        strongest = max(weighted, key=lambda item: abs(item[0].score) * item[1])[0]
        if strongest.factors:
            evidence = ", ".join(f.split(": ", 1)[1] for f in strongest.factors[:3])
            sentences.append(f"The {strongest.timeframe} chart weighs most: {evidence}.")
        return " ".join(sentences[:4])

    def summarize(self, state: PipelineState) -> str:
        parts = [
            f"{s.symbol}: {s.bias.value.capitalize()} ({s.confidence:.0f}% confidence)"
            for s in state.bias_results.values()
        ]
        kept = sum(1 for symbol in state.bias_results if symbol in state.symbols)
        dropped = len(state.bias_results) - kept
        summary = "; ".join(parts) + (f" — {dropped} dropped" if dropped else "")
        summary = summary or "No symbols left to analyse"
        if llm_fell_back(state, self.agent_id):
            summary += " (rules engine used instead of the LLM)"
        return summary


class _BiasCrew:
    """The LLM engine of one bias step: the bias crew per symbol, on the run's client."""

    def __init__(self, agent: BiasAgent, state: PipelineState, ctx: AgentContext):
        # Imported here: the LLM engine loads only for steps that use it.
        from agents.llm.client import llm_client_for
        from agents.llm.config import llm_settings

        self.agent, self.state = agent, state
        self.client = llm_client_for(ctx, agent_id=agent.agent_id)
        self.model = llm_settings().model_for("bias", agent.config.get("model", ""))
        self.headlines = self._headlines(ctx, list(state.symbols))

    @staticmethod
    def _headlines(ctx: AgentContext, symbols: list[str]) -> dict[str, list[Headline]]:
        now = ctx.clock.now()
        by_symbol: dict[str, list[Headline]] = {symbol: [] for symbol in symbols}
        try:
            found = ctx.news.headlines(symbols, since=now - timedelta(hours=NEWS_HOURS), until=now)
        except MarketDataError:
            return by_symbol  # the sentiment analyst reads the price context alone
        for headline in found:
            if headline.symbol in by_symbol and headline.published_at <= now:
                by_symbol[headline.symbol].append(headline)
        return by_symbol

    def read(
        self, symbol: str, frames: list[TimeframeData], rules_signal: BiasSignal, now
    ) -> BiasSignal:
        from agents.llm.client import LLMAnswerRejected, LLMUnavailable
        from agents.llm.crews import llm_bias

        try:
            return llm_bias(
                self.client,
                symbol=symbol,
                market=self.state.market_data[symbol],
                frames=frames,
                breakdown=rules_signal.timeframe_breakdown,
                headlines=self.headlines.get(symbol, []),
                model=self.model,
                now=now,
                news_hours=NEWS_HOURS,
            )
        except (LLMAnswerRejected, LLMUnavailable) as error:
            use_rules_after_llm_failure(
                self.agent.config,
                self.state,
                self.agent.agent_id,
                self.agent.metadata.name,
                error,
                symbol,
            )
            return rules_signal
