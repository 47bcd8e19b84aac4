"""The "Custom strategy" agent: runs the pipeline owner's approved strategy in the sandbox.

The node names a strategy lineage; each run loads that lineage's ACTIVE version for the
pipeline's owner (another user's strategy is "not found"), evaluates it once per symbol in the
sandbox, audits the call (version, hash, duration, memory, result) and turns BUY/SELL into a
StrategySignal the risk manager sizes: entry at the last close, the strategy's stop and targets
or, when it gives none, a stop `default_stop_pct` away and targets at 1.5R and 3R.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import no_symbols, round_price
from agents.context import AgentContext
from agents.custom.inputs import frame_from_candles, strategy_inputs
from agents.custom.sandbox import StrategyOutput, sandbox_evaluate
from agents.custom.selectors import active_strategy
from agents.custom.services import strategy_run_record
from agents.errors import AgentError, InsufficientData
from agents.registry import register
from agents.state import PipelineState, StrategySignal, TradeSide

AGENT_TYPE = "custom_strategy"


def fill_params(declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The declared params with the node's values, each of its declared type."""
    filled = dict(declared)
    for name, value in (given or {}).items():
        if name not in declared:
            raise AgentError(f"Custom strategy has no parameter {name!r}")
        default = declared[name]
        kind = type(default)
        try:
            if kind is bool:
                if not isinstance(value, bool):
                    raise TypeError
                filled[name] = value
            elif kind in (int, float):
                if isinstance(value, bool):
                    raise TypeError
                number = float(value)
                filled[name] = int(number) if kind is int and number == int(number) else number
            else:
                filled[name] = str(value)
        except (TypeError, ValueError) as wrong:
            raise AgentError(
                f"Custom strategy parameter {name}: {value!r} is not a {kind.__name__}"
            ) from wrong
    return filled


def params_schema(declared: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a strategy's params (the builder's form)."""
    types = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return {
        "type": "object",
        "title": "Strategy parameters",
        "properties": {
            name: {
                "type": types[type(default)],
                "title": name.replace("_", " ").capitalize(),
                "default": default,
            }
            for name, default in declared.items()
        },
        "additionalProperties": False,
    }


def custom_strategy_schema(*, user, values: dict[str, Any]) -> dict[str, Any]:
    """The builder's form for a custom strategy node: the user's approved strategies to pick
    from, and the chosen one's declared params (typed, with their defaults)."""
    from agents.custom.selectors import active_strategies_for_user

    schema = json.loads(json.dumps(CustomStrategyAgent.metadata.config_schema))
    strategies = list(active_strategies_for_user(user=user))
    chosen = next((s for s in strategies if str(s.lineage) == values.get("strategy")), None)
    lineages = [str(s.lineage) for s in strategies]
    if values.get("strategy") and chosen is None:
        lineages.append(values["strategy"])  # shown, and flagged when the run cannot find it
    schema["properties"]["strategy"]["enum"] = lineages
    schema["properties"]["strategy"]["description"] = (
        "; ".join(f"{s.name} v{s.version}" for s in strategies)
        or "No approved custom strategy yet: create one under Strategies."
    )
    if chosen is not None:
        schema["properties"]["params"] = params_schema(chosen.params)
        schema["properties"]["params"]["description"] = f"{chosen.name} v{chosen.version}"
    return schema


@register
class CustomStrategyAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type=AGENT_TYPE,
        name="Custom strategy",
        description=(
            "Your own strategy, described in English and approved by an administrator, run in "
            "the sandbox: BUY, SELL or HOLD per symbol with its stop and targets."
        ),
        category="analysis",
        icon="code",
        pricing_rate=Decimal("0.20"),
        is_free=False,
        requires_timeframes=[],
        config_schema={
            "type": "object",
            "title": "Custom strategy",
            "properties": {
                "strategy": {
                    "type": "string",
                    "title": "Strategy",
                    "description": "One of your approved custom strategies.",
                    "minLength": 1,
                },
                "params": {
                    "type": "object",
                    "title": "Parameters",
                    "description": "Values for the parameters the strategy declares.",
                    "default": {},
                },
                "default_stop_pct": {
                    "type": "number",
                    "title": "Default stop (%)",
                    "description": "Stop distance from entry when the strategy gives none.",
                    "minimum": 0.1,
                    "maximum": 20,
                    "default": 1.0,
                },
            },
            "required": ["strategy"],
            "additionalProperties": False,
        },
    )

    @classmethod
    def required_timeframes(cls, config: dict[str, Any]) -> set[str]:
        """The TIMEFRAMES the strategy's active version declares (the market data agent
        fetches them); 5m when it declares none or is not active."""
        from agents.models import CustomStrategy, CustomStrategyStatus

        try:
            declared = (
                CustomStrategy.objects.filter(
                    lineage=config.get("strategy"), status=CustomStrategyStatus.ACTIVE
                )
                .values_list("timeframes", flat=True)
                .first()
            )
        except (ValueError, TypeError, ValidationError):
            declared = None
        return set(declared or ["5m"])

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        strategy = active_strategy(owner_id=ctx.pipeline.owner_id, lineage=self.config["strategy"])
        if strategy is None:
            raise AgentError(
                "Custom strategy not found or not active (it may await review, be suspended, "
                "or belong to someone else)."
            )
        timeframes = strategy.timeframes or ["5m"]
        params = fill_params(strategy.params, self.config.get("params") or {})
        positions = {position.symbol: position for position in ctx.executor.positions()}
        for symbol in list(state.symbols):
            market = state.market_data.get(symbol)
            missing = [
                t
                for t in timeframes
                if market is None
                or not market.timeframes.get(t, None)
                or not market.timeframes[t].candles
            ]
            if missing:
                raise InsufficientData(
                    f"Custom strategy “{strategy.name}” needs {', '.join(missing)} candles for "
                    f"{symbol}; add them to the Market Data agent (and keep candles in state)."
                )
            frames = {t: frame_from_candles(market.timeframes[t].candles) for t in timeframes}
            held = positions.get(symbol)
            position = (
                {"side": held.side, "quantity": held.quantity, "entry": float(held.average_price)}
                if held is not None
                else None
            )
            inputs = strategy_inputs(
                frames=frames,
                timeframes=timeframes,
                indicators=strategy.indicators,
                position=position,
                params=params,
            )
            result = sandbox_evaluate(strategy.code, inputs)
            strategy_run_record(
                strategy=strategy,
                result=result,
                pipeline_id=ctx.pipeline.pipeline_id or None,
                execution_id=ctx.pipeline.execution_id or state.execution_id or None,
                symbol=symbol,
                limit=settings.CUSTOM_STRATEGY_ANOMALY_LIMIT,
            )
            if not result.ok:
                raise AgentError(
                    f"Custom strategy “{strategy.name}” v{strategy.version} failed on {symbol}: "
                    f"{result.error}"
                )
            output = result.outputs[0]
            close = frames[timeframes[0]]["close"].iloc[-1]
            signal = self._signal(symbol, output, float(close), timeframes[0], strategy, ctx)
            if signal is None:
                state.add_warning(
                    self.agent_id,
                    f"{symbol}: no trade — {strategy.name} says {output.signal}"
                    + (f" ({output.reason})" if output.reason else ""),
                    symbol,
                )
                state.drop_symbol(symbol)
                continue
            state.strategy_signals[symbol] = signal
        state.metadata.setdefault("custom_strategies", {})[self.agent_id] = {
            "strategy": str(strategy.pk),
            "version": strategy.version,
            "code_hash": strategy.code_hash,
        }
        return state

    def _signal(self, symbol, output: StrategyOutput, close: float, timeframe, strategy, ctx):
        levels = signal_levels(output, close, default_stop_pct=self.config["default_stop_pct"])
        if levels is None:
            return None
        side, entry, stop_loss, target_1, target_2 = levels
        risk = abs(entry - stop_loss)
        return StrategySignal(
            symbol=symbol,
            action=side,
            conviction=70,
            entry_price=entry,
            stop_loss=stop_loss,
            target_1=target_1,
            target_2=target_2,
            risk_reward_ratio=round(abs(target_1 - entry) / risk, 2),
            reasoning=output.reason or f"{strategy.name} v{strategy.version}: {output.signal}",
            technical_factors=[f"custom:{strategy.name} v{strategy.version}"],
            timeframe=timeframe,
            engine="custom",
            timestamp=ctx.clock.now(),
        )


def signal_levels(output: StrategyOutput, close: float, *, default_stop_pct: float):
    """(side, entry, stop, target 1, target 2) a strategy's answer sets at `close`, or None for
    HOLD: a stop on the wrong side or missing is `default_stop_pct` away, missing targets are
    1.5R and 3R. Live runs and backtests both read levels from here."""
    if output.signal == "HOLD":
        return None
    side = TradeSide.BUY if output.signal == "BUY" else TradeSide.SELL
    sign = 1 if side == TradeSide.BUY else -1
    entry = round_price(close)
    stop_loss = output.stop_loss
    if stop_loss is None or (entry - stop_loss) * sign <= 0:
        stop_loss = entry * (1 - sign * default_stop_pct / 100)
    stop_loss = round_price(stop_loss)
    risk = abs(entry - stop_loss)
    if risk <= 0:
        return None
    targets = [t for t in output.targets if (t - entry) * sign > 0]
    target_1 = round_price(targets[0]) if targets else round_price(entry + sign * 1.5 * risk)
    target_2 = round_price(targets[1]) if len(targets) > 1 else round_price(entry + sign * 3 * risk)
    return side, entry, stop_loss, target_1, target_2
