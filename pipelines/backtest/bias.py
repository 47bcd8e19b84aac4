"""The Bias node in a backtest: it picks each trade's side as in a live run, read by the agent's
own code (`BiasAgent._read`, `_drop_reason`, and on the LLM engine `agents.llm.crews.llm_bias`).

Speed by design: the indicators the Market Data node configures are computed once over the whole
history on each analysis timeframe (higher timeframes resampled from the dataset's bars), and each
base bar knows, by one vectorised search, the last bar of every timeframe closed at its close —
what a live run's market data holds then. The bias itself is read lazily, only on the bars where
the trigger fired while the backtest is flat (a run that could open a position), and each answer
is kept: no bar is read twice.

On the LLM engine the bias crew is asked on those bars only, through the backtest's budgeted
client on the replay cache (`pipelines.backtest.llm_budget`): a call that could pass the budget
is refused before any token is bought, and the backtest stops there (BudgetExceeded).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from agents.builtin.bias import NEWS_HOURS, BiasAgent
from agents.builtin.common import timeframe_sort_key
from agents.errors import InsufficientData
from agents.state import BiasType, MarketData, TimeframeData
from trading.indicators import DEFAULT_INDICATORS, compute_indicators
from trading.marketdata.frames import bar_closes

LONG, SHORT = "long", "short"


class _Frame:
    """One analysis timeframe over the history: its bars, indicators, and per base bar the index
    of its last closed bar (-1 before the first)."""

    def __init__(
        self, history, frame, timeframe: str, indicators: tuple[str, ...], candles: int = 0
    ):
        from pipelines.backtest.conditions import _bars_on

        bars = _bars_on(frame, history.timeframe, timeframe)
        self.timeframe, self.candles = timeframe, candles
        self.stamps = np.datetime_as_string(
            (bars.index.asi8 // 1_000_000_000).astype("datetime64[s]"), unit="s"
        )
        self.ohlcv = {k: bars[k].to_numpy(np.float64) for k in ("open", "high", "low", "close")}
        self.ohlcv["volume"] = bars["volume"].to_numpy(np.float64)
        computed = compute_indicators(bars, list(indicators), timeframe=timeframe)
        self.names = [str(name) for name in computed.columns]
        self.values = computed.to_numpy(np.float64) if self.names else np.zeros((len(bars), 0))
        if timeframe == history.timeframe:
            self.closed = np.arange(len(history))
        else:
            own_close = bar_closes(bars.index.asi8 // 1_000_000_000, timeframe)
            base_close = bar_closes(history.open_seconds.astype(np.int64), history.timeframe)
            self.closed = np.searchsorted(own_close, base_close, side="right") - 1

    def _row(self, index: int) -> dict[str, float | None]:
        if index < 0:
            return dict.fromkeys(self.names)
        return {
            name: None if math.isnan(value) else float(value)
            for name, value in zip(self.names, self.values[index].tolist(), strict=True)
        }

    def at(self, bar: int) -> TimeframeData | None:
        """What a live run's market data holds on this timeframe at the base bar's close."""
        index = int(self.closed[bar])
        if index < 0:
            return None
        return TimeframeData(
            timeframe=self.timeframe,
            ohlcv={k: float(v[index]) for k, v in self.ohlcv.items()},
            indicators=self._row(index),
            previous_indicators=self._row(index - 1),
            candles=self._candles(index),
            bar_count=index + 1,
        )

    def _candles(self, index: int) -> list[dict]:
        """The last `candles` bars up to `index`, oldest first, as the market data keeps them."""
        first = max(0, index + 1 - self.candles)
        o, h, low, c, v = (self.ohlcv[k] for k in ("open", "high", "low", "close", "volume"))
        return [
            {
                "t": f"{self.stamps[i]}+00:00",
                "o": float(o[i]),
                "h": float(h[i]),
                "l": float(low[i]),
                "c": float(c[i]),
                "v": float(v[i]),
            }
            for i in range(first, index + 1)
        ]


class BiasReplay:
    """The pipeline's Bias node over one history: `side_at(bar)` is "long", "short" or None (the
    bias is neutral, not confident enough, unreadable, or on the side the backtest excludes)."""

    def __init__(self, history, plan, *, llm=None):
        config = plan.bias
        from pipelines.backtest.sessions import decision_moments

        self.history, self.side = history, plan.side
        self.moments = decision_moments(history) if len(history) else np.zeros(0, np.int64)
        self.agent = BiasAgent(plan.bias_node or "bias", config)
        frame = history.frame()
        indicators = tuple(plan.bias_indicators or DEFAULT_INDICATORS)
        timeframes = sorted(config["analysis_timeframes"], key=timeframe_sort_key)
        self.frames = [_Frame(history, frame, tf, indicators) for tf in timeframes]
        self.llm = llm if config.get("engine") == "llm" else None
        self.readings: dict[int, str | None] = {}
        self.signals: dict[int, object] = {}  # bar → BiasSignal, for the trades' reasoning
        self._headlines: list | None = None
        self.strategy = None  # the Strategy agent's LLM engine (pipelines.backtest.llm_strategy)
        if plan.strategy_llm is not None:
            from pipelines.backtest.llm_strategy import StrategyCrewReplay

            self.strategy = StrategyCrewReplay(history, plan, llm=llm, indicators=indicators)

    @property
    def llm_calls(self) -> int:
        """Bars on which the LLM engine was asked."""
        return sum(1 for s in self.signals.values() if getattr(s, "engine", "") == "llm")

    def side_at(self, bar: int) -> str | None:
        if bar not in self.readings:
            self.readings[bar] = self._read(bar)
        return self.readings[bar]

    def levels_at(self, bar: int):
        """The strategy crew's (stop, target 1, target 2) for the trade the bias sided at `bar`;
        False: no trade; None: the rules strategy sets them (no crew, or it fell back)."""
        if self.strategy is None:
            return None
        now = datetime.fromtimestamp(int(self.moments[bar]), UTC)
        return self.strategy.levels_at(bar, self.signals[bar], now)

    def _read(self, bar: int) -> str | None:
        frames = [f.at(bar) for f in self.frames]
        if any(f is None for f in frames):
            return None  # a live run would lack the market data: no trade
        now = datetime.fromtimestamp(int(self.moments[bar]), UTC)
        symbol = self.history.symbol
        try:
            signal = self.agent._read(symbol, frames, "rules", now)
        except InsufficientData:
            return None
        if self.llm is not None:
            signal = self._ask_crew(bar, frames, signal, now)
        self.signals[bar] = signal
        if self.agent._drop_reason(signal):
            return None
        side = LONG if signal.bias == BiasType.BULLISH else SHORT
        return side if self.side in ("both", side) else None

    def _ask_crew(self, bar: int, frames, rules_signal, now):
        from agents.llm.client import LLMAnswerRejected, LLMUnavailable
        from agents.llm.config import llm_settings
        from agents.llm.crews import llm_bias

        close = float(self.history.close[bar])
        market = MarketData(
            symbol=self.history.symbol,
            current_price=close,
            bid=close,
            ask=close,
            volume=int(self.history.volume[bar]),
            timestamp=now,
            timeframes={f.timeframe: f for f in frames},
        )
        since = now - timedelta(hours=NEWS_HOURS)
        try:
            return llm_bias(
                self.llm,
                symbol=self.history.symbol,
                market=market,
                frames=frames,
                breakdown=rules_signal.timeframe_breakdown,
                headlines=[h for h in self.headlines() if since <= h.published_at <= now],
                model=llm_settings().model_for("bias", self.agent.config.get("model", "")),
                now=now,
                news_hours=NEWS_HOURS,
            )
        except (LLMAnswerRejected, LLMUnavailable):
            if not self.agent.config.get("fallback_to_rules", False):
                raise
            return rules_signal

    def headlines(self) -> list:
        """The news provider's headlines over the whole history, fetched once."""
        if self._headlines is None:
            from trading.marketdata.base import MarketDataError
            from trading.marketdata.registry import news_provider

            first = int(self.moments[0]) - NEWS_HOURS * 3600
            last = int(self.moments[-1]) + 1
            try:
                found = news_provider().headlines(
                    [self.history.symbol],
                    since=datetime.fromtimestamp(first, UTC),
                    until=datetime.fromtimestamp(last, UTC),
                )
            except MarketDataError:
                found = []  # the sentiment analyst reads the price context alone, as live
            self._headlines = [h for h in found if h.symbol == self.history.symbol]
        return self._headlines


def trigger_bars(history, plan) -> np.ndarray:
    """The bars on which the trigger fires (an upper bound on the bias's readings), with no
    LLM asked: a News Trigger on the LLM engine counts as met on every bar."""
    from dataclasses import replace

    from pipelines.backtest import sessions
    from pipelines.backtest.conditions import _condition_masks

    n = len(history)
    entries = (
        _condition_masks(history, plan.entry_conditions, plan.entry_logic)
        if plan.entry_conditions
        else np.ones(n, dtype=bool)
    )
    news = plan.news_trigger
    if news is not None and news.get("engine") == "llm":
        plan = replace(plan, news_trigger=None)
    gate = sessions.entry_gate(history, plan)
    return np.flatnonzero(entries if gate is None else entries & gate)
