"""Trade manager: turns approved risk decisions into bracket orders placed through the executor."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import money, no_symbols, to_cents
from agents.builtin.conditions import condition_schema
from agents.config import FieldError
from agents.context import AgentContext
from agents.errors import AgentError
from agents.registry import register
from agents.state import (
    IntendedOrder,
    PipelineState,
    RiskDecision,
    StrategySignal,
    TradeExecution,
)
from trading.conditions import OPERATORS
from trading.executors.base import BracketOrderRequest, ExecutionError

# Alpaca rejects a client_order_id longer than 48 characters.
MAX_CLIENT_ORDER_ID = 48


def client_order_id(execution_id: str, agent_id: str, symbol: str, leg: str) -> str:
    """A deterministic id for one order leg, so a retried step finds its order instead of
    placing a second one (the broker refuses a duplicate client_order_id)."""
    execution = re.sub(r"[^0-9a-zA-Z]", "", execution_id)[:12] or "run"
    node = re.sub(r"[^0-9A-Za-z_]", "_", agent_id)
    ticker = re.sub(r"[^0-9A-Za-z.]", "", symbol)
    candidate = f"tc-{execution}-{node}-{ticker}-{leg}"
    if len(candidate) <= MAX_CLIENT_ORDER_ID:
        return candidate
    # Long node ids are replaced by a short digest; the result stays deterministic.
    digest = hashlib.sha256(f"{agent_id}|{symbol}".encode()).hexdigest()[:10]
    return f"tc-{execution}-{digest}-{ticker[:10]}-{leg}"[:MAX_CLIENT_ORDER_ID]


def exit_quantities(quantity: int, split: list[int]) -> tuple[int, int]:
    """Shares to sell at target 1 and target 2; target 1 takes the rounding."""
    at_target_1 = min(quantity, (quantity * split[0] + 50) // 100)  # half up
    if split[1] > 0 and quantity > 1 and at_target_1 == quantity:
        at_target_1 = quantity - 1
    return at_target_1, quantity - at_target_1


@register
class TradeManagerAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="trade_manager_agent",
        name="Trade Manager",
        description=(
            "Places each approved trade as a bracket order (entry, stop loss, two targets) "
            "through the pipeline's trading mode; in validation mode it records the order and "
            "sends nothing."
        ),
        category="execution",
        icon="swap_horiz",
        pricing_rate=Decimal("0"),
        is_free=True,
        has_side_effects=True,
        config_schema={
            "type": "object",
            "title": "Trade manager",
            "description": "How approved trades are placed and managed.",
            "properties": {
                "allow_pyramiding": {
                    "type": "boolean",
                    "title": "Allow pyramiding",
                    "description": "Add to a symbol that already has an open position.",
                    "default": False,
                },
                "partial_exit_split": {
                    "type": "array",
                    "title": "Exit split at target 1 / target 2 (%)",
                    "description": "Share of the position closed at each target; adds up to 100.",
                    "items": {"type": "integer", "minimum": 0, "maximum": 100},
                    "minItems": 2,
                    "maxItems": 2,
                    "default": [50, 50],
                },
                "move_stop_to_breakeven": {
                    "type": "boolean",
                    "title": "Move stop to breakeven",
                    "description": "After target 1 fills, move the stop to the entry price.",
                    "default": True,
                },
                "monitoring_enabled": {
                    "type": "boolean",
                    "title": "Monitor positions",
                    "description": "Watch open positions for stop and target hits.",
                    "default": True,
                },
                "exit_conditions": {
                    "type": "array",
                    "title": "Exit conditions",
                    "description": (
                        "Close the position when these hold on a bar's close, e.g. sma_10 "
                        "crosses_below sma_20; checked every bar besides the stop and targets."
                    ),
                    "items": condition_schema(
                        operators=OPERATORS, with_timeframe=True, shorthand=True
                    ),
                    "maxItems": 10,
                    "default": [],
                },
                "exit_logic": {
                    "type": "string",
                    "title": "Combine exit conditions with",
                    "description": "AND: all must hold; OR: any one is enough.",
                    "enum": ["AND", "OR"],
                    "default": "OR",
                },
                "order_type": {
                    "type": "string",
                    "title": "Entry order type",
                    "description": "market: enter now; limit: enter at the strategy's entry price.",
                    "enum": ["market", "limit"],
                    "default": "market",
                },
            },
            "required": [],
            "additionalProperties": False,
        },
    )

    @classmethod
    def config_rules(cls, config: dict[str, Any]) -> list[FieldError]:
        split = config["partial_exit_split"]
        if sum(split) != 100:
            return [
                FieldError(
                    "partial_exit_split",
                    f"must add up to 100% (it is {split[0]} + {split[1]} = {sum(split)})",
                )
            ]
        return []

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        split = self.config["partial_exit_split"]
        if sum(split) != 100:
            raise AgentError(
                f"Trade manager: the exit split must add up to 100% "
                f"(it is {split[0]} + {split[1]} = {sum(split)})."
            )
        held = {position.symbol for position in ctx.executor.positions()}
        execution_id = state.execution_id or ctx.pipeline.execution_id
        for symbol in list(state.symbols):
            decision = state.risk_approvals.get(symbol)
            signal = state.strategy_signals.get(symbol)
            if decision is None or signal is None or not decision.approved:
                state.add_warning(
                    self.agent_id, f"{symbol}: no approved risk decision, so no order.", symbol
                )
                state.drop_symbol(symbol)
                continue
            order = self._intended_order(state, execution_id, signal, decision)
            if (
                symbol in held
                and not self.config["allow_pyramiding"]
                and not self._already_placed(ctx, order)
            ):
                state.add_warning(
                    self.agent_id,
                    f"{symbol}: a position is already open and pyramiding is off, so no order.",
                    symbol,
                )
                state.drop_symbol(symbol)
                continue
            if ctx.executor.sends_orders:
                state.intended_orders[symbol] = order
                self._place(state, ctx, order)
                continue
            previous = state.intended_orders.get(symbol)
            if previous is not None and previous.client_order_id == order.client_order_id:
                continue  # a resumed run: this order was recorded already
            state.intended_orders[symbol] = order
            order.outcome = "recorded"
            result = ctx.executor.submit_bracket(self._request(order))
            order.note = f"{order.note} {result.message or 'Recorded only; nothing was sent.'}"
        return state

    @staticmethod
    def _already_placed(ctx: AgentContext, order: IntendedOrder) -> bool:
        """True when this very order went out before (a resumed step): the open position is
        ours, so the step carries on with it instead of treating it as someone else's."""
        if not ctx.executor.sends_orders:
            return False
        from trading.models import Order

        return Order.objects.filter(client_order_id__startswith=order.client_order_id).exists()

    def _place(self, state: PipelineState, ctx: AgentContext, order: IntendedOrder) -> None:
        """Send the order through the ledger: its intent row is committed first, and a resumed
        step finds the order (and its trade) instead of placing it twice."""
        from accounts.models import User
        from trading.services import position_open

        try:
            outcome = position_open(
                owner=User.objects.get(pk=ctx.pipeline.owner_id),
                mode=state.trading_mode,
                executor=ctx.executor,
                plan=self._entry_plan(order),
                client_order_id=order.client_order_id,
                pipeline_id=ctx.pipeline.pipeline_id or None,
                execution_id=state.execution_id or None,
                node_id=self.agent_id,
                fill_costs=ctx.pipeline.mode_config,
                now=ctx.clock.now(),
            )
        except ExecutionError as error:
            order.note = f"Not placed: {error}"
            order.outcome = "not_placed"
            state.add_error(self.agent_id, f"{order.symbol}: order failed: {error}", order.symbol)
            raise AgentError(f"Trade manager: {order.symbol}: {error}") from None
        self._record_outcome(state, ctx, order, outcome)

    def _entry_plan(self, order: IntendedOrder):
        """The ledger's entry plan for this order, with the configured exits."""
        from trading.services import EntryPlan

        return EntryPlan(
            symbol=order.symbol,
            side=order.side.value,
            quantity=order.quantity,
            entry_price=order.entry_price,
            stop_loss=order.stop_loss,
            target_1=order.target_1,
            target_2=order.target_2,
            order_type=order.order_type,
            partial_exit_pct=self.config["partial_exit_split"][0],
            move_stop_to_breakeven=self.config["move_stop_to_breakeven"],
            monitoring=self.config["monitoring_enabled"],
            time_in_force=order.time_in_force,
            exit_rules=(
                {
                    "conditions": self.config["exit_conditions"],
                    "logic": self.config["exit_logic"],
                }
                if self.config["exit_conditions"]
                else {}
            ),
        )

    def _record_outcome(
        self, state: PipelineState, ctx: AgentContext, order: IntendedOrder, outcome
    ) -> None:
        """Note what the ledger did with the order: rejected, filled (a trade), queued or open."""
        order.submitted = True
        order.outcome = outcome.status if outcome.status != "pending" else "accepted"
        if outcome.status == "rejected":
            order.note = f"Rejected: {outcome.message}"
            state.add_error(
                self.agent_id, f"{order.symbol}: order rejected: {outcome.message}", order.symbol
            )
            state.drop_symbol(order.symbol)
            return
        if outcome.filled_quantity:
            state.trades.append(self._trade_execution(ctx, order, outcome))
        elif outcome.status == "queued":
            order.note = f"{order.note} {outcome.message}"
        else:
            order.note = f"{order.note} Sent; not filled yet ({outcome.status})."

    @staticmethod
    def _trade_execution(ctx: AgentContext, order: IntendedOrder, outcome) -> TradeExecution:
        """The fill as the run's state records it, slippage averaged per share."""
        slippage = (outcome.slippage / outcome.filled_quantity).quantize(Decimal("0.0001"))
        return TradeExecution(
            client_order_id=order.client_order_id,
            broker_order_id=outcome.orders[0].broker_order_id,
            symbol=order.symbol,
            action=order.side,
            quantity=order.quantity,
            requested_price=order.entry_price,
            filled_price=outcome.average_price,
            filled_quantity=outcome.filled_quantity,
            slippage=slippage,
            commission=outcome.commission,
            status=outcome.status,
            trading_mode=order.trading_mode,
            timestamp=ctx.clock.now(),
        )

    def _intended_order(
        self,
        state: PipelineState,
        execution_id: str,
        signal: StrategySignal,
        decision: RiskDecision,
    ) -> IntendedOrder:
        at_target_1, at_target_2 = exit_quantities(
            decision.position_size, self.config["partial_exit_split"]
        )
        plan = [f"Exit {at_target_1} at target 1 and {at_target_2} at target 2"]
        if self.config["move_stop_to_breakeven"]:
            plan.append("stop to breakeven after target 1")
        if not self.config["monitoring_enabled"]:
            plan.append("not monitored")
        state.metadata.setdefault("exit_plans", {})[signal.symbol] = {
            "target_1_quantity": at_target_1,
            "target_2_quantity": at_target_2,
            "move_stop_to_breakeven": self.config["move_stop_to_breakeven"],
            "monitoring_enabled": self.config["monitoring_enabled"],
        }
        return IntendedOrder(
            symbol=signal.symbol,
            side=signal.action,
            quantity=decision.position_size,
            order_type=self.config["order_type"],
            entry_price=to_cents(signal.entry_price),
            stop_loss=to_cents(signal.stop_loss),
            target_1=to_cents(signal.target_1),
            target_2=to_cents(signal.target_2),
            client_order_id=client_order_id(execution_id, self.agent_id, signal.symbol, "entry"),
            trading_mode=state.trading_mode,
            submitted=False,
            note="; ".join(plan) + ".",
        )

    @staticmethod
    def _request(order: IntendedOrder) -> BracketOrderRequest:
        return BracketOrderRequest(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side.value,
            quantity=order.quantity,
            entry_price=order.entry_price,
            stop_loss=order.stop_loss,
            target_1=order.target_1,
            target_2=order.target_2,
            take_profit=order.target_2,
            order_type=order.order_type,
            limit_price=order.entry_price if order.order_type == "limit" else None,
            time_in_force=order.time_in_force,
        )

    def summarize(self, state: PipelineState) -> str:
        orders = list(state.intended_orders.values())
        if not orders:
            return "No symbols left to trade"
        parts = []
        for order in orders:
            parts.append(
                f"{order.side.value} {order.quantity} {order.symbol} @ {money(order.entry_price)} "
                f"({order.outcome_label()})"
            )
        return "; ".join(parts)
