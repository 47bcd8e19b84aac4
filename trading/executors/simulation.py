"""SimulationExecutor: fills against the market-data feed with slippage, commission, partial
fills and rejections drawn from a seeded RNG, so a run replays exactly; the simulated account
and positions are the ledger's own rows. It keeps to the exchange calendar: outside the session
an entry is queued for the next open (filled by the position monitor's sweep) or refused, as the
pipeline's `outside_session` says; extended hours only when the pipeline asks for them."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, time
from decimal import ROUND_HALF_UP, Decimal

from trading import calendar, simulation_rules
from trading.clock import Clock
from trading.executors.base import (
    AccountSnapshot,
    BracketOrderRequest,
    ExecutionError,
    OrderResult,
    PositionSnapshot,
    TradeExecutor,
)
from trading.marketdata.base import MarketDataProvider

CENT = Decimal("0.01")
REJECTION_RATE = 0.05
PARTIAL_FILL_RATE = 0.20
REJECTION_REASONS = (
    "Insufficient buying power",
    "Market closed",
    "Symbol not tradable",
    "Order size too large",
)
# Extended hours (pre-market and after-hours) on a session day, New York time.
EXTENDED_OPEN, EXTENDED_CLOSE = time(4, 0), time(20, 0)


def _rng(seed: object, client_order_id: str) -> random.Random:
    # Seeded per order: the same run (same ids, same seed) draws the same fills, in any process.
    digest = hashlib.sha256(f"{seed}:{client_order_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - simulation, not crypto


class SimulationExecutor(TradeExecutor):
    mode = "SIMULATION"
    sends_orders = True
    manages_exits_at_broker = False

    def __init__(
        self,
        *,
        owner,
        mode_config: dict,
        clock: Clock,
        market_data: MarketDataProvider,
    ):
        self.owner = owner
        self.clock = clock
        self.market_data = market_data
        self.slippage_pct = Decimal(str(mode_config.get("slippage_pct", "0.1")))
        self.commission_per_share = Decimal(str(mode_config.get("commission_per_share", "0.005")))
        self.commission_pct = Decimal(str(mode_config.get("commission_pct", "0")))
        self.partial_fills = bool(mode_config.get("simulate_partial_fills", True))
        self.rejections = bool(mode_config.get("simulate_rejections", True))
        self.initial_balance = Decimal(str(mode_config.get("initial_balance", "100000")))
        self.seed = mode_config.get("seed")
        self.outside_session = mode_config.get("outside_session", "queue")
        self.extended_hours = bool(mode_config.get("extended_hours", False))

    # --- account ---------------------------------------------------------------------------

    def _open_positions(self):
        from trading.models import Mode, Position, PositionStatus

        return Position.objects.filter(
            owner=self.owner, trading_mode=Mode.SIMULATION, status=PositionStatus.OPEN
        )

    def account(self) -> AccountSnapshot:
        from trading.services import simulated_account_for

        account = simulated_account_for(owner=self.owner, initial_balance=self.initial_balance)
        long_value = short_value = Decimal("0")
        for position in self._open_positions():
            if position.side == "long":
                long_value += position.market_value
            else:
                short_value += position.market_value
        equity = account.cash + long_value - short_value
        # No margin: buying power is what equity leaves after what is already held.
        buying_power = max(Decimal("0"), equity - long_value - short_value)
        return AccountSnapshot(equity=equity, cash=account.cash, buying_power=buying_power)

    def positions(self) -> list[PositionSnapshot]:
        return [
            PositionSnapshot(
                symbol=p.symbol,
                side=p.side,
                quantity=p.quantity,
                average_price=p.average_price,
                market_value=p.market_value,
                unrealized_pnl=p.unrealized_pnl,
            )
            for p in self._open_positions()
        ]

    # --- fills -------------------------------------------------------------------------------

    def _market_price(self, symbol: str, reference: Decimal | None) -> Decimal:
        quote = self.market_data.quotes([symbol], at=self.clock.now()).get(symbol)
        if quote is not None:
            return Decimal(str(quote.price))
        if reference:
            return Decimal(reference)
        raise ExecutionError(f"No price for {symbol}: the simulation cannot fill the order.")

    def _slipped(self, price: Decimal, side: str) -> tuple[Decimal, Decimal]:
        """(fill price, slippage per share): buys fill higher, sells lower."""
        fill = simulation_rules.slipped_price(price, side=side, slippage_pct=self.slippage_pct)
        return fill, abs(fill - price.quantize(CENT, ROUND_HALF_UP))

    def commission_for(self, quantity: int, price: Decimal | None = None) -> Decimal:
        return simulation_rules.commission_for(
            quantity,
            price,
            per_share=self.commission_per_share,
            pct_of_notional=self.commission_pct,
        )

    def market_open_at(self, moment: datetime) -> bool:
        """Whether an order fills at `moment`: in the regular session, or in extended hours on
        a session day when the pipeline asks for them."""
        if calendar.is_open(moment):
            return True
        if not self.extended_hours:
            return False
        local = moment.astimezone(calendar.NEW_YORK)
        return calendar.is_session(local.date()) and EXTENDED_OPEN <= local.time() < EXTENDED_CLOSE

    def _outside_session(self, request: BracketOrderRequest, now: datetime) -> OrderResult:
        """The market is closed: queue the entry for the next open, or refuse it — never a
        fill at the last (stale) price."""
        opens = calendar.next_open(now)
        when = f"{opens.astimezone(calendar.NEW_YORK):%a %d %b %H:%M} ET"
        if self.outside_session == "reject":
            return OrderResult(
                client_order_id=request.client_order_id,
                status="rejected",
                message=f"Market closed: refused outside the session (it opens {when}).",
            )
        return OrderResult(
            client_order_id=request.client_order_id,
            status="accepted",
            broker_order_id=f"SIM-{request.client_order_id}",
            message=f"Market closed: queued for the next open ({when}).",
            raw={"queued_for_open": opens.isoformat()},
        )

    def submit_bracket(self, request: BracketOrderRequest) -> OrderResult:
        now = self.clock.now()
        if not self.market_open_at(now):
            return self._outside_session(request, now)
        rng = _rng(self.seed, request.client_order_id)
        if self.rejections and rng.random() < REJECTION_RATE:
            return OrderResult(
                client_order_id=request.client_order_id,
                status="rejected",
                message=f"Simulated rejection: {rng.choice(REJECTION_REASONS)}",
            )
        market = self._market_price(request.symbol, request.entry_price)
        if request.order_type == "limit" and request.limit_price is not None:
            crossed = (
                market <= request.limit_price
                if request.side == "buy"
                else market >= request.limit_price
            )
            if not crossed:
                return OrderResult(
                    client_order_id=request.client_order_id,
                    status="accepted",
                    broker_order_id=f"SIM-{request.client_order_id}",
                    message="Limit not reached; the simulated order rests unfilled.",
                )
            fill, slippage = Decimal(request.limit_price), Decimal("0")
        else:
            fill, slippage = self._slipped(market, request.side)
        quantity = request.quantity
        if self.partial_fills and quantity > 1 and rng.random() < PARTIAL_FILL_RATE:
            quantity = max(1, int(quantity * rng.uniform(0.7, 0.95)))
        return OrderResult(
            client_order_id=request.client_order_id,
            status="filled" if quantity == request.quantity else "partially_filled",
            broker_order_id=f"SIM-{request.client_order_id}",
            filled_quantity=quantity,
            filled_price=fill,
            commission=self.commission_for(quantity, fill),
            slippage=slippage,
            message="Simulated fill",
        )

    def close_position(
        self,
        symbol: str,
        *,
        quantity: int | None,
        client_order_id: str,
        reference_price: Decimal | None = None,
    ) -> OrderResult:
        position = self._open_positions().filter(symbol=symbol).first()
        if position is None:
            raise ExecutionError(f"No open simulated position in {symbol}.")
        quantity = quantity or position.quantity
        side = "sell" if position.side == "long" else "buy"
        fill, slippage = self._slipped(self._market_price(symbol, reference_price), side)
        return OrderResult(
            client_order_id=client_order_id,
            status="filled",
            broker_order_id=f"SIM-{client_order_id}",
            filled_quantity=quantity,
            filled_price=fill,
            commission=self.commission_for(quantity, fill),
            slippage=slippage,
            message="Simulated market close",
        )
