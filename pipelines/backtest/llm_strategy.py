"""The Strategy agent's LLM engine in a backtest: the strategy crew sets the stop and targets of a
trade the Bias node sided, asked only on the bars where the trigger fired and the bias let a
trade through (`pipelines.backtest.bias`), through the backtest's budgeted client on the replay
cache — the same meter and hard cap as every LLM engine in a backtest (`llm_budget`).

The crew sees what a live run's market data holds at the bar's close on the strategy's
timeframe (the last closed bar, its indicators and recent candles) and the bias's reading. Its
plan passes the crew's own guardrails, then the risk manager's minimum reward-to-risk, as live.
When it advises holding there is no trade.
"""

from __future__ import annotations

from decimal import Decimal

from trading import simulation_rules

CANDLES = 60  # the Market Data agent's default candles_in_state


class StrategyCrewReplay:
    """`levels_at(bar, bias_signal, now)`: (stop, target 1, target 2); False for no trade; None
    when the crew failed and the node falls back to the rules engine."""

    def __init__(self, history, plan, *, llm, indicators: tuple[str, ...]):
        from agents.builtin.strategy import StrategyAgent
        from agents.llm.config import llm_settings
        from agents.llm.crews import StrategyBrief
        from pipelines.backtest.bias import _Frame

        config = plan.strategy_llm
        self.history, self.plan, self.llm = history, plan, llm
        self.agent = StrategyAgent(plan.strategy_node or "strategy", config)
        self.frame = _Frame(history, history.frame(), config["timeframe"], indicators, CANDLES)
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
        self.asked = 0  # bars on which the crew was asked
        self.plans: dict[int, object] = {}  # bar → the StrategySignal whose levels were taken

    def levels_at(self, bar: int, bias_signal, now):
        from agents.builtin.strategy import swing_points
        from agents.llm.client import LLMAnswerRejected, LLMUnavailable
        from agents.llm.crews import HoldAdvice, llm_strategy

        frame = self.frame.at(bar)
        if frame is None:
            return False  # no closed bar on the strategy's timeframe yet
        self.asked += 1
        try:
            signal = llm_strategy(
                self.llm,
                symbol=self.history.symbol,
                bias=bias_signal,
                frame=frame,
                swing_highs=swing_points(frame.candles, highs=True),
                swing_lows=swing_points(frame.candles, highs=False),
                brief=self.brief,
                model=self.model,
                now=now,
            )
        except HoldAdvice:
            return False
        except (LLMAnswerRejected, LLMUnavailable):
            if not self.agent.config.get("fallback_to_rules", False):
                raise
            return None
        entry = float(self.history.close[bar])
        stop, target_1, target_2 = signal.stop_loss, signal.target_1, signal.target_2
        if self.plan.min_risk_reward is not None and not simulation_rules.risk_reward_met(
            Decimal(str(abs(target_1 - entry))).quantize(Decimal("0.01")),
            Decimal(str(abs(entry - stop))).quantize(Decimal("0.01")),
            self.plan.min_risk_reward,
        ):
            return False
        self.plans[bar] = signal
        return float(stop), float(target_1), float(target_2)
