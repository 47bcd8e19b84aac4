"""Strategy agent: a trade plan per symbol with the bias: entry, stop loss and two targets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import (
    CENTS,
    engine_properties,
    llm_fell_back,
    no_symbols,
    pick_engine,
    ratio,
    round_price,
    timeframe_property,
    to_cents,
    use_rules_after_llm_failure,
)
from agents.context import AgentContext
from agents.errors import InsufficientData
from agents.registry import register
from agents.state import (
    BiasSignal,
    BiasType,
    PipelineState,
    StrategySignal,
    TimeframeData,
    TradeSide,
)
from trading.indicators import is_number

BAND_LABELS = (
    ("bb_upper", "upper Bollinger band"),
    ("bb_middle", "middle Bollinger band"),
    ("bb_lower", "lower Bollinger band"),
)


class NoTrade(Exception):
    """This symbol gets no signal; the message says why (it becomes a warning)."""


@dataclass(frozen=True)
class Levels:
    entry: float
    stop_loss: float
    target_1: float
    target_2: float
    reasoning: dict[str, str]


def r_multiple_target(entry: float, risk: float, multiple: float, sign: int) -> float:
    """entry ± multiple x risk, in cents, rounded away from the entry so that rounding never
    pulls the reward below the multiple (a 1.5R target must not come out as 1.49R)."""
    exact = to_cents(entry) + sign * Decimal(str(multiple)) * to_cents(risk)
    rounding = ROUND_CEILING if sign > 0 else ROUND_FLOOR
    return float(exact.quantize(CENTS, rounding=rounding))


def swing_points(candles: list[dict[str, Any]], *, highs: bool) -> list[float]:
    """Local extremes of the candles: a high above both neighbours, or a low below both."""
    key = "h" if highs else "l"
    values = [float(candle[key]) for candle in candles]
    points = []
    for index in range(1, len(values) - 1):
        left, value, right = values[index - 1], values[index], values[index + 1]
        if (highs and value > left and value >= right) or (
            not highs and value < left and value <= right
        ):
            points.append(value)
    return points


@register
class StrategyAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="strategy_agent",
        name="Strategy Agent",
        description=(
            "Builds a complete trade plan in the direction of the bias: market entry, a stop "
            "loss from volatility (ATR) or the last swing, and two profit targets, with the "
            "reasoning for each level. Plans below the minimum risk/reward are dropped."
        ),
        category="analysis",
        icon="strategy",
        pricing_rate=Decimal("0.10"),
        is_free=False,
        requires_timeframes=["5m"],
        engines=["rules", "llm"],
        config_schema={
            "type": "object",
            "title": "Strategy agent",
            "description": "How trade plans are built.",
            "properties": {
                "timeframe": timeframe_property(
                    "Trading timeframe", "Timeframe the entry, stop and targets come from.", "5m"
                ),
                "risk_reward_min": {
                    "type": "number",
                    "title": "Minimum risk/reward",
                    "description": "Reward to target 1 over the risk; lower plans are dropped.",
                    "minimum": 1.0,
                    "maximum": 5.0,
                    "default": 1.5,
                },
                "stop_method": {
                    "type": "string",
                    "title": "Stop loss method",
                    "description": "atr: ATR(14) multiples from entry; swing: at the last swing.",
                    "enum": ["atr", "swing"],
                    "default": "atr",
                },
                "atr_multiplier": {
                    "type": "number",
                    "title": "ATR multiplier",
                    "description": "atr stops: distance from entry in ATRs.",
                    "minimum": 0.25,
                    "maximum": 10,
                    "default": 1.5,
                },
                "swing_lookback": {
                    "type": "integer",
                    "title": "Swing lookback (bars)",
                    "description": "swing stops: bars searched for the swing low (or high).",
                    "minimum": 3,
                    "maximum": 200,
                    "default": 10,
                },
                "target_method": {
                    "type": "string",
                    "title": "Target method",
                    "description": (
                        "r_multiple: targets at multiples of the risk; levels: the nearest swing "
                        "or Bollinger band beyond the entry."
                    ),
                    "enum": ["r_multiple", "levels"],
                    "default": "r_multiple",
                },
                "target_1_r": {
                    "type": "number",
                    "title": "Target 1 (R)",
                    "description": "r_multiple: target 1 distance in multiples of the risk.",
                    "minimum": 0.5,
                    "maximum": 10,
                    "default": 1.5,
                },
                "target_2_r": {
                    "type": "number",
                    "title": "Target 2 (R)",
                    "description": "Target 2 distance in multiples of the risk.",
                    "minimum": 0.5,
                    "maximum": 20,
                    "default": 3.0,
                },
                "creativity": {
                    "type": "number",
                    "title": "Creativity (temperature)",
                    "description": "LLM engine only: higher values give more varied plans.",
                    "minimum": 0,
                    "maximum": 1,
                    "default": 0.7,
                },
                **engine_properties("builds the plan"),
            },
            "required": [],
            "additionalProperties": False,
        },
    )

    @classmethod
    def required_timeframes(cls, config: dict[str, Any]) -> set[str]:
        return {config.get("timeframe") or "5m"}

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        timeframe = self.config["timeframe"]
        without_data = [
            symbol
            for symbol in state.symbols
            if symbol not in state.market_data
            or timeframe not in state.market_data[symbol].timeframes
        ]
        if without_data:
            raise InsufficientData(
                f"Strategy agent needs {timeframe} market data for {', '.join(without_data)}; "
                f"add {timeframe} to the Market Data agent's timeframes."
            )
        engine = pick_engine(self.config, state, ctx, self.agent_id, self.metadata.name)
        now = ctx.clock.now()
        crew = _StrategyCrew(self, state, ctx) if engine == "llm" else None
        for symbol in list(state.symbols):
            frame = state.market_data[symbol].timeframes[timeframe]
            bias = state.bias_results.get(symbol)
            try:
                if crew is not None:
                    signal = crew.plan(symbol, bias, frame, now)
                else:
                    signal = self._plan(symbol, bias, frame, engine, now)
            except NoTrade as reason:
                state.add_warning(self.agent_id, f"{symbol}: no trade — {reason}", symbol)
                state.drop_symbol(symbol)
                continue
            state.strategy_signals[symbol] = signal
        return state

    @staticmethod
    def _side(bias: BiasSignal | None, frame: TimeframeData) -> tuple[TradeSide, float]:
        """The trade's side from the bias, and the close it enters from (or NoTrade)."""
        if bias is None:
            raise NoTrade("no bias for this symbol; put a Bias agent before the Strategy agent.")
        if bias.bias == BiasType.NEUTRAL:
            raise NoTrade(
                "the bias is neutral, and the strategy never fights or guesses the trend."
            )
        side = TradeSide.BUY if bias.bias == BiasType.BULLISH else TradeSide.SELL
        close = frame.ohlcv.get("close")
        if not is_number(close) or close <= 0:
            raise NoTrade(f"no closed {frame.timeframe} bar to enter from.")
        return side, close

    def _plan(
        self, symbol: str, bias: BiasSignal | None, frame: TimeframeData, engine: str, now
    ) -> StrategySignal:
        side, close = self._side(bias, frame)
        levels = self._levels(side, float(close), frame)
        risk = abs(levels.entry - levels.stop_loss)
        risk_reward = float(ratio(to_cents(abs(levels.target_1 - levels.entry)), to_cents(risk)))
        minimum = self.config["risk_reward_min"]
        if risk_reward < minimum:
            raise NoTrade(
                f"reward to target 1 is {risk_reward:g}R, below the {minimum:g}R minimum "
                f"(entry {levels.entry:.2f}, stop {levels.stop_loss:.2f}, target 1 "
                f"{levels.target_1:.2f})."
            )
        factors, conviction = self._conviction(side, bias, frame)
        direction = "long" if side == TradeSide.BUY else "short"
        return StrategySignal(
            symbol=symbol,
            action=side,
            conviction=conviction,
            entry_price=levels.entry,
            stop_loss=levels.stop_loss,
            target_1=levels.target_1,
            target_2=levels.target_2,
            risk_reward_ratio=risk_reward,
            reasoning=(
                f"Go {direction} {symbol} with the {bias.bias.value} bias "
                f"({bias.confidence:.0f}% confidence): risk {risk:.2f} a share to make "
                f"{risk_reward:g}R at target 1. {levels.reasoning['stop_loss']}"
            ),
            level_reasoning=levels.reasoning,
            technical_factors=factors,
            timeframe=frame.timeframe,
            engine=engine,
            timestamp=now,
        )

    def _levels(self, side: TradeSide, close: float, frame: TimeframeData) -> Levels:
        sign = 1 if side == TradeSide.BUY else -1
        entry = round_price(close)
        reasoning = {
            "entry": f"Market entry at the last closed {frame.timeframe} bar's close, {entry:.2f}."
        }
        if self.config["stop_method"] == "atr":
            stop_loss, reasoning["stop_loss"] = self._atr_stop(sign, entry, frame)
        else:
            stop_loss, reasoning["stop_loss"] = self._swing_stop(sign, entry, frame)
        risk = abs(entry - stop_loss)
        if risk <= 0:
            raise NoTrade("the stop loss rounds to the entry price.")
        if self.config["target_method"] == "levels":
            target_1, target_2 = self._level_targets(sign, entry, risk, frame, reasoning)
        else:
            target_1, target_2 = self._r_multiple_targets(sign, entry, risk, reasoning)
        return Levels(entry, stop_loss, target_1, target_2, reasoning)

    def _atr_stop(self, sign: int, entry: float, frame: TimeframeData) -> tuple[float, str]:
        """The stop a multiple of ATR(14) beyond the entry, and why."""
        timeframe = frame.timeframe
        if "atr_14" not in frame.indicators:
            raise InsufficientData(
                f"Strategy agent's ATR stop needs ATR on {timeframe}; add ATR to the Market "
                "Data agent's indicators (or use the swing stop)."
            )
        atr = frame.indicators["atr_14"]
        if not is_number(atr) or atr <= 0:
            raise NoTrade(f"ATR(14) on {timeframe} is not available yet (too few bars).")
        multiplier = self.config["atr_multiplier"]
        stop_loss = round_price(entry - sign * multiplier * atr)
        return stop_loss, (
            f"Stop loss {multiplier:g} x ATR(14) ({atr:.2f}) "
            f"{'below' if sign > 0 else 'above'} "
            f"the entry: {stop_loss:.2f}."
        )

    def _swing_stop(self, sign: int, entry: float, frame: TimeframeData) -> tuple[float, str]:
        """The stop at the recent swing low (long) or high (short), and why."""
        timeframe = frame.timeframe
        lookback = self.config["swing_lookback"]
        recent = frame.candles[-lookback:]
        if not recent:
            raise NoTrade(f"no {timeframe} candles to find a swing in.")
        if sign > 0:
            swing = min(float(candle["l"]) for candle in recent)
            name = "low"
        else:
            swing = max(float(candle["h"]) for candle in recent)
            name = "high"
        stop_loss = round_price(swing)
        if (entry - stop_loss) * sign <= 0:
            raise NoTrade(
                f"the {lookback}-bar swing {name} ({stop_loss:.2f}) is not beyond the entry "
                f"({entry:.2f}), so there is no place for the stop."
            )
        return stop_loss, (
            f"Stop loss at the {lookback}-bar swing {name} on {timeframe}: {stop_loss:.2f}."
        )

    def _level_targets(
        self, sign: int, entry: float, risk: float, frame: TimeframeData, reasoning: dict
    ) -> tuple[float, float]:
        """Targets at the nearest swing points or bands beyond the entry (R multiple for a
        missing second one); their reasons go into `reasoning`."""
        levels = self._target_levels(sign, entry, frame)
        if not levels:
            raise NoTrade(
                f"no swing {'high' if sign > 0 else 'low'} or Bollinger band beyond the entry "
                f"on {frame.timeframe} to aim for."
            )
        target_1, target_1_why = levels[0]
        reasoning["target_1"] = (
            f"Target 1 at the nearest {target_1_why}: {target_1:.2f} "
            f"({abs(target_1 - entry) / risk:.2f}R)."
        )
        if len(levels) > 1:
            target_2, target_2_why = levels[1]
            reasoning["target_2"] = (
                f"Target 2 at the next {target_2_why}: {target_2:.2f} "
                f"({abs(target_2 - entry) / risk:.2f}R)."
            )
            return target_1, target_2
        # Never closer than target 1: at least a cent beyond it.
        target_2_r = self.config["target_2_r"]
        target_2 = r_multiple_target(entry, risk, max(target_2_r, 0), sign)
        if (target_2 - target_1) * sign <= 0:
            target_2 = round_price(target_1 + sign * 0.01)
        reasoning["target_2"] = (
            f"Target 2 at {target_2_r:g}R ({target_2:.2f}); no further level beyond target 1."
        )
        return target_1, target_2

    def _r_multiple_targets(
        self, sign: int, entry: float, risk: float, reasoning: dict
    ) -> tuple[float, float]:
        """Targets at the configured R multiples of the risk; their reasons go into `reasoning`."""
        target_1_r, target_2_r = self.config["target_1_r"], self.config["target_2_r"]
        target_1 = r_multiple_target(entry, risk, target_1_r, sign)
        target_2 = r_multiple_target(entry, risk, target_2_r, sign)
        reasoning["target_1"] = (
            f"Target 1 at {target_1_r:g}R: {risk:.2f} risk x {target_1_r:g} "
            f"{'above' if sign > 0 else 'below'} the entry, {target_1:.2f}."
        )
        reasoning["target_2"] = f"Target 2 at {target_2_r:g}R: {target_2:.2f}."
        return target_1, target_2

    @staticmethod
    def _target_levels(sign: int, entry: float, frame: TimeframeData) -> list[tuple[float, str]]:
        """Price levels beyond the entry in the trade's direction, nearest first."""
        labels: dict[float, str] = {}
        for price in swing_points(frame.candles, highs=sign > 0):
            labels.setdefault(round_price(price), "swing high" if sign > 0 else "swing low")
        for key, label in BAND_LABELS:
            value = frame.indicators.get(key)
            if is_number(value):
                labels.setdefault(round_price(value), label)
        beyond = [price for price in labels if (price - entry) * sign > 0]
        return [(price, labels[price]) for price in sorted(beyond, key=lambda p: abs(p - entry))]

    @staticmethod
    def _conviction(
        side: TradeSide, bias: BiasSignal, frame: TimeframeData
    ) -> tuple[list[str], float]:
        """The bias confidence, nudged by momentum on the trading timeframe."""
        sign = 1 if side == TradeSide.BUY else -1
        timeframe = frame.timeframe
        factors = [f"{bias.bias.value.capitalize()} bias ({bias.confidence:.0f}%)"]
        conviction = bias.confidence
        histogram = frame.indicators.get("macd_hist")
        if is_number(histogram) and histogram != 0:
            agrees = histogram * sign > 0
            factors.append(
                f"{timeframe} MACD histogram {'confirms' if agrees else 'disagrees'} "
                f"({histogram:+.3f})"
            )
            conviction += 5 if agrees else -10
        rsi = frame.indicators.get("rsi_14")
        if is_number(rsi):
            stretched = (sign > 0 and rsi >= 70) or (sign < 0 and rsi <= 30)
            factors.append(f"{timeframe} RSI {rsi:.0f}" + (" (stretched)" if stretched else ""))
            if stretched:
                conviction -= 10
        atr = frame.indicators.get("atr_14")
        if is_number(atr):
            factors.append(f"{timeframe} ATR(14) {atr:.2f}")
        return factors, round(min(max(conviction, 0.0), 100.0), 1)

    def summarize(self, state: PipelineState) -> str:
        signals = list(state.strategy_signals.values())
        summary = "; ".join(
            f"{s.symbol}: {s.action.value} @ {s.entry_price:.2f}, stop {s.stop_loss:.2f}, "
            f"targets {s.target_1:.2f} / {s.target_2:.2f} ({s.risk_reward_ratio:g}R)"
            for s in signals
        )
        summary = summary or "No symbols left to plan"
        if llm_fell_back(state, self.agent_id):
            summary += " (rules engine used instead of the LLM)"
        return summary


class _StrategyCrew:
    """The LLM engine of one strategy step: the strategy crew per symbol, on the run's client.

    The crew's plan passes the same guardrails as any answer (levels on the right sides of the
    entry, the minimum reward) and then the deterministic risk manager, like a rules plan."""

    def __init__(self, agent: StrategyAgent, state: PipelineState, ctx: AgentContext):
        # Imported here: the LLM engine loads only for steps that use it.
        from agents.llm.client import llm_client_for
        from agents.llm.config import llm_settings
        from agents.llm.crews import StrategyBrief

        config = agent.config
        self.agent, self.state = agent, state
        self.client = llm_client_for(ctx, agent_id=agent.agent_id)
        self.model = llm_settings().model_for("strategy", config.get("model", ""))
        self.brief = StrategyBrief(
            risk_reward_min=config["risk_reward_min"],
            target_1_r=config["target_1_r"],
            target_2_r=config["target_2_r"],
            stop_method=config["stop_method"],
            atr_multiplier=config["atr_multiplier"],
            swing_lookback=config["swing_lookback"],
            temperature=config["creativity"],
        )

    def plan(
        self, symbol: str, bias: BiasSignal | None, frame: TimeframeData, now
    ) -> StrategySignal:
        from agents.llm.client import LLMAnswerRejected, LLMUnavailable
        from agents.llm.crews import HoldAdvice, llm_strategy

        self.agent._side(bias, frame)  # no bias, a neutral one or no bar: no tokens spent
        try:
            return llm_strategy(
                self.client,
                symbol=symbol,
                bias=bias,
                frame=frame,
                swing_highs=swing_points(frame.candles, highs=True),
                swing_lows=swing_points(frame.candles, highs=False),
                brief=self.brief,
                model=self.model,
                now=now,
            )
        except HoldAdvice as advice:
            raise NoTrade(f"the strategy crew advises holding: {advice}") from None
        except (LLMAnswerRejected, LLMUnavailable) as error:
            use_rules_after_llm_failure(
                self.agent.config,
                self.state,
                self.agent.agent_id,
                self.agent.metadata.name,
                error,
                symbol,
            )
            return self.agent._plan(symbol, bias, frame, "rules", now)
